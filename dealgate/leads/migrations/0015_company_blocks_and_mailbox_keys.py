"""Keys that let more spellings of one buyer meet.

Company keys transliterate German letters ("Schröder" gives "schroeder", as
"Schroeder" does; "ß" already gave "ss"), and a company is found by each of
up to two blocks of its distinctive words (`normalize.company_blocks`), not
by its first word alone: "Schmidt Consulting" meets "Consulting Schmidt".
Leads keep the second block's match key in `company_match_other`.

Email keys drop a "+tag" from the local part, and at gmail.com and
googlemail.com its dots (`normalize.email_key`); the address as typed stays.

Every lead's keys are computed again from the stored keys and names; the
history of decisions keeps the keys it recorded.
"""

import contextlib

from django.db import migrations, models

BATCH = 2_000
KEYS = ("email_key", "company_key", "company_block", "company_match")
FIELDS = (*KEYS, "company_match_other")


def refill(apps, schema_editor):
    from dealgate.leads import normalize

    Lead = apps.get_model("leads", "Lead")
    rows = Lead.objects.using(schema_editor.connection.alias)
    batch = []
    for lead in rows.only("id", "company", *FIELDS).order_by("id").iterator(BATCH):
        before = [getattr(lead, name) for name in FIELDS]
        if lead.email_key:
            # The stored key is the address as the old rule kept it, which
            # reads as the new rule reads what was typed.
            # One that no longer reads (stored under an older, looser rule)
            # is kept.
            with contextlib.suppress(ValueError):
                lead.email_key = normalize.email_key(lead.email_key)
        key = normalize.company_key(lead.company)
        lead.company_key = key
        lead.company_block = normalize.company_block(key)
        lead.company_match = normalize.company_match(key)
        lead.company_match_other = normalize.company_match_other(key)
        if [getattr(lead, name) for name in FIELDS] != before:
            batch.append(lead)
        if len(batch) == BATCH:
            rows.bulk_update(batch, FIELDS)
            batch = []
    rows.bulk_update(batch, FIELDS)


class Migration(migrations.Migration):
    dependencies = [("leads", "0014_response_from_arrival")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="company_match_other",
            field=models.CharField(blank=True, db_default="", max_length=80),
        ),
        migrations.RunPython(refill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["company_match_other", "status"],
                name="lead_dedup_company_other",
            ),
        ),
    ]
