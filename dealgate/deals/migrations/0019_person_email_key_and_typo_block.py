"""Keys an inquiry finds open deals by, as it finds leads.

People keep their email's key (`Person.email_key`, `leads.normalize.
email_key`: case, a "+tag", gmail's dots and googlemail.com aside), indexed:
an inquiry from "anna+web@firm.com" or "Anna@Firm.com" missed the open deal
whose contact is "anna@firm.com", since deals were found by the contact's
literal address. Organizations keep their name's typo block
(`name_block_typo`, `leads.normalize.company_typo_match`), indexed, so
"Simens" finds the deals of "Siemens". Both are computed for every row
stored; the fields' `pre_save` keeps them from then on.
"""

from django.db import migrations, models

import dealgate.deals.models

BATCH = 1_000


def refill(apps, schema_editor):
    from dealgate.deals.models import person_email_key
    from dealgate.leads.normalize import company_key, company_typo_match

    alias = schema_editor.connection.alias
    Person = apps.get_model("deals", "Person")
    _refill(Person.objects.using(alias), "email", "email_key", person_email_key)
    Organization = apps.get_model("deals", "Organization")
    _refill(
        Organization.objects.using(alias),
        "name",
        "name_block_typo",
        lambda name: company_typo_match(company_key(name)),
    )


def _refill(rows, source, column, key):
    batch = []
    for row in rows.only("id", source, column).order_by("id").iterator(BATCH):
        value = key(getattr(row, source))
        if value == getattr(row, column):
            continue
        setattr(row, column, value)
        batch.append(row)
        if len(batch) == BATCH:
            rows.bulk_update(batch, [column])
            batch = []
    rows.bulk_update(batch, [column])


class Migration(migrations.Migration):
    dependencies = [("deals", "0018_deal_updated_at")]

    operations = [
        migrations.AddField(
            model_name="person",
            name="email_key",
            field=dealgate.deals.models.EmailKeyField(
                default="", editable=False, max_length=254
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="name_block_typo",
            field=dealgate.deals.models.NameTypoBlockField(
                default="", editable=False, max_length=80
            ),
        ),
        migrations.RunPython(refill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["email_key"], name="person_email_key"),
        ),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(
                fields=["name_block_typo"], name="organization_name_block_typo"
            ),
        ),
    ]
