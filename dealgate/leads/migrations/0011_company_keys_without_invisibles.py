"""Leads' company keys drop every character a reader cannot see, as the
organization names they are built on do (`core.names`): a lead from
"Zeta Widgets" with a variation selector after it keys as "zeta widgets".

Only leads whose company name is not plain ASCII can hold such a character;
their keys are computed again."""

from django.db import migrations

BATCH = 2_000


def refill(apps, schema_editor):
    from dealgate.leads.normalize import company_block, company_key, company_match

    Lead = apps.get_model("leads", "Lead")
    rows = Lead.objects.using(schema_editor.connection.alias)
    fields = ["company_key", "company_block", "company_match"]
    batch = []
    for lead in rows.exclude(company="").only("id", "company", *fields).iterator(BATCH):
        key = company_key(lead.company)
        if lead.company.isascii() or key == lead.company_key:
            continue
        lead.company_key = key
        lead.company_block = company_block(key)
        lead.company_match = company_match(key)
        batch.append(lead)
        if len(batch) == BATCH:
            rows.bulk_update(batch, fields)
            batch = []
    rows.bulk_update(batch, fields)


class Migration(migrations.Migration):
    dependencies = [("leads", "0010_spooled_capture")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
