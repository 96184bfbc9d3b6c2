"""Records Dealgate writes in a deal's activities get their own kind,
`system`, so no criterion, rule or page counts them as something a person
logged. The notes a redesign wrote before this (a deal carried past gates by
a new order: "Pipeline 'p' redesigned by ann: stage 'x' now stands after
...") are re-labelled: they were stored as notes, and `held("note")` or a
rule counting activities counted them.

Going back labels them notes again, as they were.
"""

from django.db import migrations, models

# What every such note began with and held, whatever the stage names.
_STARTS = "Pipeline '"
_HOLDS = ("' redesigned by ", "' now stands after ")


def _written_by_redesigns(apps, schema_editor, kind):
    Activity = apps.get_model("deals", "Activity")
    rows = Activity.objects.using(schema_editor.connection.alias).filter(
        kind=kind, subject__startswith=_STARTS
    )
    for part in _HOLDS:
        rows = rows.filter(subject__contains=part)
    return rows


def label_system(apps, schema_editor):
    _written_by_redesigns(apps, schema_editor, "note").update(kind="system")


def label_notes(apps, schema_editor):
    _written_by_redesigns(apps, schema_editor, "system").update(kind="note")


class Migration(migrations.Migration):
    dependencies = [("deals", "0014_entry_is_creation")]

    operations = [
        migrations.AlterField(
            model_name="activity",
            name="kind",
            field=models.CharField(
                choices=[
                    ("call", "Call"),
                    ("email", "Email"),
                    ("meeting", "Meeting"),
                    ("note", "Note"),
                    ("task", "Task"),
                    ("system", "System record"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(label_system, label_notes),
    ]
