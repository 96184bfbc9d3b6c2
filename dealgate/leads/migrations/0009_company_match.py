"""Leads keep their company's match key (normalize.company_match), which
de-duplication now reads company candidates by instead of the block alone:
with the block, each inquiry from one of many "Firm N GmbH" leads read and
compared every earlier one."""

from django.db import migrations, models

BATCH = 2_000


def fill(apps, schema_editor):
    from dealgate.leads.normalize import company_match

    Lead = apps.get_model("leads", "Lead")
    keyed = []
    for lead in (
        Lead.objects.exclude(company_key="")
        .only("id", "company_key")
        .iterator(chunk_size=BATCH)
    ):
        lead.company_match = company_match(lead.company_key)
        keyed.append(lead)
        if len(keyed) == BATCH:
            Lead.objects.bulk_update(keyed, ["company_match"])
            keyed = []
    Lead.objects.bulk_update(keyed, ["company_match"])


class Migration(migrations.Migration):
    dependencies = [("leads", "0008_domains_of_mailbox_providers")]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_dedup_company"),
        migrations.AddField(
            model_name="lead",
            name="company_match",
            field=models.CharField(blank=True, max_length=80),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["company_match", "status"], name="lead_dedup_company_match"
            ),
        ),
    ]
