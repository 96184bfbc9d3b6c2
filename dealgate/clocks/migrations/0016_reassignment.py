"""Who the sweep took a deal or lead from: one `Reassignment` row per
reassignment it makes, kept after the clock that caused it is closed, so that
no later reassignment by the sweep gives the deal or lead back to anyone it
was taken from (docs/clocks.md, "One decision per deal or lead, never back").

The deals the sweep reassigned before this migration are filled in from
the notices it wrote then: the one telling the person a deal was taken from
("Reassigned: ...", or a digest's entry on the side "lost") and the one
telling whom it went to ("Now yours: ...", or an entry on the side
"gained"), matched by their clock and time. A deal taken from someone who
could no longer sign in was told to nobody, and gets no row; neither does
a lead, whose earlier owners its assignments keep and the sweep passes over
already. Reversing drops the table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

REASSIGNED, GAINED, LOST = "reassigned", "gained", "lost"


def fill_in(apps, schema_editor) -> None:
    Notice = apps.get_model("clocks", "Notice")
    Reassignment = apps.get_model("clocks", "Reassignment")
    told = Notice.objects.filter(kind=REASSIGNED).values_list(
        "user_id", "created_at", "clock_id", "deal_id", "title", "items"
    )
    # (clock, time) -> deal, and whom it was taken from and given to.
    sides: dict[tuple, dict] = {}
    for user, at, clock, deal, title, items in told.iterator(chunk_size=1000):
        entries = items or [{"clock": clock, "deal": deal, "side": _side(title)}]
        for entry in entries:
            if entry.get("deal") is None or entry.get("clock") is None:
                continue
            seen = sides.setdefault((entry["clock"], at), {"deal": entry["deal"]})
            seen[entry.get("side", "")] = user
    both = {key: seen for key, seen in sides.items() if LOST in seen and GAINED in seen}
    # A digest's entries outlive the deals and clocks they name.
    deals = _existing(
        apps.get_model("deals", "Deal"), {s["deal"] for s in both.values()}
    )
    clocks = _existing(apps.get_model("clocks", "Clock"), {c for c, _ in both})
    Reassignment.objects.bulk_create(
        [
            Reassignment(
                deal_id=seen["deal"],
                clock_id=clock if clock in clocks else None,
                taken_from_id=seen[LOST],
                given_to_id=seen[GAINED],
                at=at,
            )
            for (clock, at), seen in both.items()
            if seen["deal"] in deals
        ],
        batch_size=1000,
    )


def _existing(model, ids: set) -> set:
    found = set()
    ids = sorted(ids)
    for start in range(0, len(ids), 1000):
        chosen = model.objects.filter(pk__in=ids[start : start + 1000])
        found.update(chosen.values_list("pk", flat=True))
    return found


def _side(title: str) -> str:
    """The side of a reassignment notice told alone, by its title."""
    if title.startswith("Now yours"):
        return GAINED
    return LOST if title.startswith("Reassigned: ") else ""


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0015_notice_data"),
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
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
