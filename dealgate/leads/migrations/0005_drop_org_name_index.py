"""De-duplication finds organizations by their folded first word now
(deals 0006, `Organization.name_block`), not by a case-blind prefix of the
raw name, which missed names with accents ("Müller" against "muller"). The
prefix index of leads 0004 has nothing left to serve."""

from django.db import migrations

INDEX = "deal_dedup_org_name"
DEFINITIONS = {
    "postgresql": f'CREATE INDEX {INDEX} ON deals_organization (UPPER("name") '
    "text_pattern_ops)",
    "sqlite": f'CREATE INDEX {INDEX} ON deals_organization ("name" COLLATE NOCASE)',
}


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in DEFINITIONS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def create(apps, schema_editor):
    definition = DEFINITIONS.get(schema_editor.connection.vendor)
    if definition:
        schema_editor.execute(definition)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0004_deal_dedup_indexes"),
        ("deals", "0006_organization_name_block"),
    ]

    operations = [migrations.RunPython(drop, create)]
