"""A demo database made before 0006 records the demo's date too.

`dealgate demo` records its data set's date (0006) so that every command on
its database runs at it. A demo database made before that, upgraded with
`dealgate migrate`, recorded nothing, and its next sweep ran at the real
time: years of clocks breached and escalated at once. Such a database holds
the demo's pipeline and its deals and no other pipeline; it gets the date
now. Any other database is left as it is.
"""

from django.db import migrations

# dealgate.demo.loader's pipeline key, deals source and date, as of this
# migration.
DEMO_PIPELINE = "maven-crm"
DEMO_SOURCE = "maven-crm"
DEMO_AS_OF = "2017-12-31"


def record_for_a_demo_database(apps, schema_editor) -> None:
    as_of = apps.get_model("clocks", "AsOf")
    pipeline = apps.get_model("pipelines", "Pipeline")
    deal = apps.get_model("deals", "Deal")
    if as_of.objects.exists():
        return
    keys = set(pipeline.objects.values_list("key", flat=True))
    if keys != {DEMO_PIPELINE}:
        return
    if not deal.objects.filter(source=DEMO_SOURCE).exists():
        return
    as_of.objects.create(pk=1, value=DEMO_AS_OF)


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0006_as_of"),
        ("pipelines", "0004_stage_replaced_by"),
        ("deals", "0008_exit_indexes_skip_entries"),
    ]

    operations = [
        migrations.RunPython(record_for_a_demo_database, migrations.RunPython.noop)
    ]
