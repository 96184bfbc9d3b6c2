"""Organizations keep both blocks of their name (`leads.normalize.
company_blocks`), as leads do: the first in `name_block`, the second in
`name_block_other`, each indexed. A deal was found only when its
organization's first block was one of the inquiry's: "Konsulting Schmidt"
kept "kons" and was missed by an inquiry from "Schmidt" ("schm"). Every
organization's blocks are computed again from its name."""

from django.db import migrations, models

import dealgate.deals.models

BATCH = 1_000
FIELDS = ("name_block", "name_block_other")


def refill(apps, schema_editor):
    from dealgate.leads.normalize import company_blocks, company_key

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name", *FIELDS).order_by("id").iterator(BATCH):
        blocks = (*company_blocks(company_key(org.name)), "", "")
        if (org.name_block, org.name_block_other) == blocks[:2]:
            continue
        org.name_block, org.name_block_other = blocks[:2]
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, FIELDS)
            batch = []
    rows.bulk_update(batch, FIELDS)


class Migration(migrations.Migration):
    dependencies = [("deals", "0016_organization_blocks")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="name_block_other",
            field=dealgate.deals.models.NameBlockOtherField(
                default="", editable=False, max_length=50
            ),
        ),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(
                fields=["name_block_other"], name="organization_name_block_other"
            ),
        ),
        migrations.RunPython(refill, migrations.RunPython.noop),
    ]
