"""Organizations keep their name's key (`core.names.name_key`), by which the
deal page, the API and lead conversion find an organization whatever its
spacing, case or invisible characters: "acme" finds "Acme".

The key of each organization is computed here; saves set it from then on.
Its block (`name_block`) is computed again too: the company key it is
folded from now drops format characters, so "Ac\u200bme" folds to "acme",
not "ac". Organizations whose names already share a key stay as they
are; the doors take the first of them (the lowest id).
"""

from django.db import migrations, models

import dealgate.deals.models

BATCH = 1_000


def fill(apps, schema_editor):
    from dealgate.core.names import name_key
    from dealgate.leads.normalize import company_block, company_key

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name").order_by("id").iterator(chunk_size=BATCH):
        org.name_key = name_key(org.name)
        org.name_block = company_block(company_key(org.name))
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["name_key", "name_block"])
            batch = []
    if batch:
        rows.bulk_update(batch, ["name_key", "name_block"])


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0008_exit_indexes_skip_entries"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="name_key",
            field=dealgate.deals.models.NameKeyField(
                default="", editable=False, max_length=400
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["name_key"], name="organization_name_key"),
        ),
    ]
