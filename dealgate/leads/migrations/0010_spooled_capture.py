"""The receipts of spooled inquiries taken in (dealgate.leads.spool), so that
taking in a spool file again after a crash captures nothing twice."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_company_match"),
    ]

    operations = [
        migrations.CreateModel(
            name="SpooledCapture",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("receipt", models.CharField(max_length=32, unique=True)),
                ("channel", models.CharField(max_length=10)),
                ("received_at", models.DateTimeField()),
                ("taken_at", models.DateTimeField()),
                (
                    "decision",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="leads.dedupdecision",
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="leads.lead",
                    ),
                ),
            ],
        ),
    ]
