"""Organizations keep the first word of their folded name (`name_block`), so
lead capture finds the open deals of "Müller GmbH" for an inquiry from
"MÜLLER Systemhaus" through an index (leads.dedup.deals_query). Existing
organizations get theirs here; saves set it from then on."""

from django.db import migrations, models

import dealgate.deals.models

BATCH = 1_000


def fill(apps, schema_editor):
    from dealgate.leads.normalize import company_block, company_key

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name").order_by("id").iterator(chunk_size=BATCH):
        org.name_block = company_block(company_key(org.name))
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["name_block"])
            batch = []
    if batch:
        rows.bulk_update(batch, ["name_block"])


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0005_insights_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="name_block",
            field=dealgate.deals.models.NameBlockField(
                default="", editable=False, max_length=50
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["name_block"], name="organization_name_block"),
        ),
    ]
