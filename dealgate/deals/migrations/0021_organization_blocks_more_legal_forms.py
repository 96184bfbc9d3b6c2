"""Organizations' name blocks follow lead capture's company keys, which
drop the common legal forms of more countries, read by their letters alone
(`leads.normalize.LEGAL_SUFFIXES`, leads migration 0023): "Nordisk Data
A/S" was blocked by the words "a" and "s" of its "A/S", and is by "nord"
now, as "Nordisk Data" is. Every organization's blocks and typo block are
computed again from its name; one whose blocks come out the same is left
as it is.
"""

from django.db import migrations

BATCH = 1_000
FIELDS = ("name_block", "name_block_other", "name_block_typo")


def refill(apps, schema_editor):
    from dealgate.leads.normalize import company_blocks, company_key, company_typo_match

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name", *FIELDS).order_by("id").iterator(BATCH):
        key = company_key(org.name)
        blocks = (*company_blocks(key), "", "")
        values = (blocks[0], blocks[1], company_typo_match(key))
        if values == tuple(getattr(org, name) for name in FIELDS):
            continue
        org.name_block, org.name_block_other, org.name_block_typo = values
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, FIELDS)
            batch = []
    rows.bulk_update(batch, FIELDS)


class Migration(migrations.Migration):
    dependencies = [("deals", "0020_activity_detail")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
