"""Organization keys drop every character a reader cannot see: Unicode's
default-ignorable code points (variation selectors, Hangul fillers, the
combining grapheme joiner) and blank-looking ones such as the blank Braille
pattern, not only format characters (`core.names`).

The keys of organizations with such a character in their name are computed
again; names in plain ASCII hold none and keep theirs. Organizations whose
names now share a key stay as they are; the doors take the first of them
(the lowest id).
"""

from django.db import migrations

BATCH = 1_000


def refill(apps, schema_editor):
    from dealgate.core.names import name_key
    from dealgate.leads.normalize import company_block, company_key

    Organization = apps.get_model("deals", "Organization")
    rows = Organization.objects.using(schema_editor.connection.alias)
    batch = []
    for org in rows.only("id", "name", "name_key").order_by("id").iterator(BATCH):
        if org.name.isascii() or org.name_key == name_key(org.name):
            continue
        org.name_key = name_key(org.name)
        org.name_block = company_block(company_key(org.name))
        batch.append(org)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["name_key", "name_block"])
            batch = []
    rows.bulk_update(batch, ["name_key", "name_block"])


class Migration(migrations.Migration):
    dependencies = [("deals", "0010_idempotency_keys")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
