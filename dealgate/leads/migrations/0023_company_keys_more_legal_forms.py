"""Company keys drop the common legal forms of more countries, read by
their letters alone (`normalize.LEGAL_SUFFIXES`): "Huber Ges.m.b.H." and
"Huber GesmbH" key as "huber", as "Huber GmbH" does, "Nordisk Data A/S" as
"nordisk data" (it was "nordisk data a s"), and so do "Sp. z o.o.",
"s.r.o.", "S.L.", "Kft.", "d.o.o." and the others listed there.

Every lead's company key is computed again from its name as typed, with the
blocks, match keys and typo block built on it; a lead whose keys come out
the same is left as it is. The history of decisions keeps the keys it
recorded. Organizations' blocks follow in deals migration 0021.
"""

from django.db import migrations

BATCH = 2_000
FIELDS = (
    "company_key",
    "company_block",
    "company_match",
    "company_match_other",
    "company_match_typo",
)


def refill(apps, schema_editor):
    from dealgate.leads import normalize

    Lead = apps.get_model("leads", "Lead")
    rows = Lead.objects.using(schema_editor.connection.alias)
    batch = []
    for lead in (
        rows.exclude(company="")
        .only("id", "company", *FIELDS)
        .order_by("id")
        .iterator(BATCH)
    ):
        before = [getattr(lead, name) for name in FIELDS]
        key = normalize.company_key(lead.company)
        lead.company_key = key
        lead.company_block = normalize.company_block(key)
        lead.company_match = normalize.company_match(key)
        lead.company_match_other = normalize.company_match_other(key)
        lead.company_match_typo = normalize.company_typo_match(key)
        if [getattr(lead, name) for name in FIELDS] != before:
            batch.append(lead)
        if len(batch) == BATCH:
            rows.bulk_update(batch, FIELDS)
            batch = []
    rows.bulk_update(batch, FIELDS)


class Migration(migrations.Migration):
    dependencies = [("leads", "0022_lead_emails_without_mailto")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
