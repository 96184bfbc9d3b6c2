"""De-duplication keys indexed with the status: captures read live leads only."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_email_key",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_phone",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_domain",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_company_block",
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["email_key", "status"], name="lead_dedup_email"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["phone_e164", "status"], name="lead_dedup_phone"
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["domain", "status"], name="lead_dedup_domain"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["company_block", "status"], name="lead_dedup_company"
            ),
        ),
    ]
