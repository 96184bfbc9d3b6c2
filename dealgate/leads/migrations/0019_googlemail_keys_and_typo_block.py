"""Email keys take googlemail.com as gmail.com, and leads keep a typo block.

Google delivers every gmail.com address at googlemail.com too, so the email
key names both as gmail.com (`normalize.email_key`): the stored keys of
leads, and of the deals' contacts (`deals.Person.email_key`), ending in
"@googlemail.com" are computed again from the addresses as typed.

Leads keep their company name's typo block with its numbers
(`company_match_typo`, `normalize.company_typo_match`), indexed with the
status as the other match keys are: "Simens" meets "Siemens", which share
no block. It is computed for every lead with a company key.

De-duplication now finds an open deal by its contact's `email_key` (deals
0019), so the case-blind index on the contact's raw email (0004) serves
nothing any more and is dropped.
"""

from django.db import migrations, models

BATCH = 2_000
GOOGLEMAIL = "@googlemail.com"
INDEX = "deal_dedup_person_email"
DEFINITIONS = {
    "postgresql": f'CREATE INDEX {INDEX} ON deals_person (UPPER("email"))',
    "sqlite": f'CREATE INDEX {INDEX} ON deals_person ("email" COLLATE NOCASE)',
}


def refill(apps, schema_editor):
    from dealgate.deals.models import person_email_key
    from dealgate.leads import normalize

    alias = schema_editor.connection.alias
    Lead = apps.get_model("leads", "Lead")
    leads = Lead.objects.using(alias)
    batch = []
    fields = ("email_key", "company_match_typo")
    for lead in (
        leads.exclude(email_key="", company_key="")
        .only("id", "email", "company_key", *fields)
        .order_by("id")
        .iterator(BATCH)
    ):
        before = (lead.email_key, lead.company_match_typo)
        if lead.email_key.endswith(GOOGLEMAIL):
            lead.email_key = _lead_key(normalize, lead)
        lead.company_match_typo = normalize.company_typo_match(lead.company_key)
        if (lead.email_key, lead.company_match_typo) != before:
            batch.append(lead)
        if len(batch) == BATCH:
            leads.bulk_update(batch, fields)
            batch = []
    leads.bulk_update(batch, fields)

    Person = apps.get_model("deals", "Person")
    people = Person.objects.using(alias).filter(email_key__endswith=GOOGLEMAIL)
    changed = []
    for person in people.only("id", "email", "email_key"):
        person.email_key = person_email_key(person.email)
        changed.append(person)
    Person.objects.using(alias).bulk_update(changed, ["email_key"], batch_size=BATCH)


def _lead_key(normalize, lead):
    """The lead's key by the rule as it is now: from the address as typed,
    else (one that no longer reads, stored under an older, looser rule)
    from the stored key, else the stored key as it is."""
    for text in (lead.email, lead.email_key):
        try:
            return normalize.email_key(text)
        except ValueError:
            continue
    return lead.email_key


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in DEFINITIONS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def create(apps, schema_editor):
    definition = DEFINITIONS.get(schema_editor.connection.vendor)
    if definition:
        schema_editor.execute(definition)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0018_lead_updated_at"),
        ("deals", "0019_person_email_key_and_typo_block"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="company_match_typo",
            field=models.CharField(blank=True, db_default="", max_length=80),
        ),
        migrations.RunPython(refill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["company_match_typo", "status"],
                name="lead_dedup_company_typo",
            ),
        ),
        migrations.RunPython(drop, create),
    ]
