"""Organizations' name blocks follow lead capture's blocks
(`leads.normalize.company_block`): German letters transliterated ("Müller"
and "Mueller" give one block), generic words ("Consulting") passed over
for the name's distinctive ones, and a block cut to its first letters.
Every organization's block is computed again from its name."""

from django.db import migrations

BATCH = 1_000


def refill(apps, schema_editor):
    from dealgate.leads.normalize import company_block, company_key

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name", "name_block").order_by("id").iterator(BATCH):
        block = company_block(company_key(org.name))
        if block == org.name_block:
            continue
        org.name_block = block
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["name_block"])
            batch = []
    rows.bulk_update(batch, ["name_block"])


class Migration(migrations.Migration):
    dependencies = [("deals", "0015_system_activities")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
