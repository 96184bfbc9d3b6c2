"""Company keys of stored leads whose names end in a legal form added to
normalize.LEGAL_SUFFIXES (OHG, GbR, e.K., e.V., KGaA, ...): computed again,
so that a new inquiry from "Müller OHG" finds the open lead of "Müller"."""

from django.db import migrations

BATCH = 2_000


def recompute(apps, schema_editor):
    from dealgate.leads.normalize import (
        ADDED_GERMAN_FORMS,
        company_block,
        company_key,
    )

    Lead = apps.get_model("leads", "Lead")
    stale = []
    for lead in (
        Lead.objects.exclude(company_key="")
        .only("id", "company", "company_key", "company_block")
        .iterator(chunk_size=BATCH)
    ):
        if lead.company_key.rsplit(" ", 1)[-1] not in ADDED_GERMAN_FORMS:
            continue
        lead.company_key = company_key(lead.company)
        lead.company_block = company_block(lead.company_key)
        stale.append(lead)
    Lead.objects.bulk_update(stale, ["company_key", "company_block"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_drop_org_name_index")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
