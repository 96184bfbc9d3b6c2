"""Who the sweep took a deal or lead from: one `Reassignment` row per
reassignment it makes, kept after the clock that caused it is closed, so that
no later reassignment by the sweep gives the deal or lead back to anyone it
was taken from (docs/clocks.md, "One decision per deal or lead, never back").

Reassignments made before this migration left no row: the clocks' notes
("reassigned to bob") name only whom a clock went to, not whom it was taken
from, so nothing is filled in. Reversing drops the table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0013_clock_late_after_required"),
        ("deals", "0018_deal_updated_at"),
        ("leads", "0018_lead_updated_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Reassignment",
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
                ("at", models.DateTimeField()),
                (
                    "clock",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="clocks.clock",
                    ),
                ),
                (
                    "deal",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="deals.deal",
                    ),
                ),
                (
                    "given_to",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="leads.lead",
                    ),
                ),
                (
                    "taken_from",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("deal__isnull", False)),
                        fields=["deal"],
                        name="reassignment_deal",
                    ),
                    models.Index(
                        condition=models.Q(("lead__isnull", False)),
                        fields=["lead"],
                        name="reassignment_lead",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("deal__isnull", False), ("lead__isnull", True)),
                            models.Q(("deal__isnull", True), ("lead__isnull", False)),
                            _connector="OR",
                        ),
                        name="reassignment_one_subject",
                    )
                ],
            },
        ),
    ]
