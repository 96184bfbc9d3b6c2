"""The weekly one-metric review: what the team looked at and what it decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WeeklyReview(models.Model):
    """One week's review of one pipeline: the metric looked at, its value when
    the decision was written (kept, so later data does not rewrite history),
    and the decision in the team's words."""

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="weekly_reviews"
    )
    # The Monday the week starts, in the pipeline's calendar zone.
    week = models.DateField()
    metric = models.CharField(max_length=40)
    value = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    decision = models.TextField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField()
    # Counts the writes of this week's decision: what the review page posts
    # back to say which decision it showed. Not `recorded_at`, which is the
    # business clock's (a demo's or --as-of's fixed instant stamps every
    # write alike, so two writes would look the same).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-week"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "week"], name="weekly_review_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_id} week of {self.week}: {self.metric}"


# -- rollups ------------------------------------------------------------------------
#
# Daily sums of closed deals and of deals entering the pipeline, so that the
# counts and sums of a page read a few thousand rows instead of every deal.
# Database triggers on deals_deal (migration 0002) append each deal's signed
# contribution to a change log whenever a field the sums read changes, through
# any door (moves, edits, bulk updates, imports, raw SQL); reading a page first
# folds the log into the daily rows (`dealgate.insights.rollup.fold`). Days are
# UTC dates: a period bounded by local midnights takes whole UTC days from the
# rollup and the hours of the days it cuts from the deals themselves.
#
# One deal counts in several rows of a day, one per `dim`: TOTAL (by stage and
# loss reason), OWNER, PRODUCT and SOURCE (by that field alone). Fields a row
# is not keyed by hold 0 or "". Percentiles still read the deals.

TOTAL, OWNER, PRODUCT, SOURCE = 0, 1, 2, 3


class ClosedDay(models.Model):
    """Deals closed on one UTC day, as they stand now, in one group."""

    pipeline_id = models.BigIntegerField()
    day = models.DateField()
    dim = models.SmallIntegerField()
    status = models.CharField(max_length=4)
    stage_id = models.BigIntegerField()  # TOTAL rows; else 0
    loss_reason = models.CharField(max_length=100)  # TOTAL rows; else ""
    currency = models.CharField(max_length=3)
    owner_id = models.BigIntegerField()  # OWNER rows (0: no owner); else 0
    product_id = models.BigIntegerField()  # PRODUCT rows (0: none); else 0
    source = models.CharField(max_length=50)  # SOURCE rows; else ""
    deals = models.BigIntegerField()
    valued = models.BigIntegerField()  # deals with a value
    value = models.DecimalField(max_digits=20, decimal_places=2, null=True)
    dated = models.BigIntegerField()  # deals with a creation date
    cycle_days = models.FloatField(null=True)  # their total days, creation to close

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("pipeline_id", "day", "dim", "status", "stage_id"),
                    *("loss_reason", "currency", "owner_id", "product_id", "source"),
                ],
                name="closedday_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.status}: {self.deals}"


class EnteredDay(models.Model):
    """Deals that entered the pipeline on one UTC day (created then, or for an
    import without a creation date, entered their stage then), in one group."""

    pipeline_id = models.BigIntegerField()
    day = models.DateField()
    dim = models.SmallIntegerField()
    owner_id = models.BigIntegerField()
    product_id = models.BigIntegerField()
    source = models.CharField(max_length=50)
    deals = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("pipeline_id", "day", "dim"),
                    *("owner_id", "product_id", "source"),
                ],
                name="enteredday_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} entered: {self.deals}"


class DealChange(models.Model):
    """One signed contribution of one deal to the rollups, appended by the
    triggers: -1 for what a deal counted before a change, +1 for what it
    counts after. `kind` is "c" (closed) or "e" (entered). Folded and deleted
    by `dealgate.insights.rollup.fold`."""

    kind = models.CharField(max_length=1)
    sign = models.SmallIntegerField()
    pipeline_id = models.BigIntegerField()
    day = models.DateField()
    status = models.CharField(max_length=4)
    stage_id = models.BigIntegerField()
    loss_reason = models.CharField(max_length=100)
    currency = models.CharField(max_length=3)
    owner_id = models.BigIntegerField(null=True)
    product_id = models.BigIntegerField(null=True)
    source = models.CharField(max_length=50)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    dated = models.SmallIntegerField()
    cycle_days = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.sign:+d} on {self.day}"
