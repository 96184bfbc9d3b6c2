"""Follow-up tasks on leads: a due time and a done flag."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_dedup_indexes_with_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="leadactivity",
            name="done",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="leadactivity",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="leadactivity",
            name="kind",
            field=models.CharField(
                choices=[
                    ("call", "Call"),
                    ("email", "Email"),
                    ("meeting", "Meeting"),
                    ("note", "Note"),
                    ("inquiry", "Repeat inquiry"),
                    ("task", "Task"),
                ],
                max_length=10,
            ),
        ),
    ]
