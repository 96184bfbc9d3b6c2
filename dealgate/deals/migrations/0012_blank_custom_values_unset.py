"""A custom value of text that holds nothing visible ("", "   ", a zero-width
space) means "not set" (`core.custom_fields.is_unset`); such values stored
before every door read them so are removed from the deals that hold them,
as the deal page removes a field left empty.

Only deals whose custom values change are written. Going back keeps them
removed.
"""

from django.db import migrations

BATCH = 1_000


def drop_blank_values(apps, schema_editor):
    from dealgate.core.custom_fields import set_values

    Deal = apps.get_model("deals", "Deal")
    rows = Deal.objects.using(schema_editor.connection.alias)
    batch = []
    for deal in (
        rows.exclude(custom={}).only("id", "custom").order_by("id").iterator(BATCH)
    ):
        if not isinstance(deal.custom, dict):
            continue
        kept = set_values(deal.custom)
        if kept == deal.custom:
            continue
        deal.custom = kept
        batch.append(deal)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["custom"])
            batch = []
    rows.bulk_update(batch, ["custom"])


class Migration(migrations.Migration):
    dependencies = [("deals", "0011_organization_keys_without_invisibles")]

    operations = [migrations.RunPython(drop_blank_values, migrations.RunPython.noop)]
