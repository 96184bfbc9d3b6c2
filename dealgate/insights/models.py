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

    class Meta:
        ordering = ["-week"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "week"], name="weekly_review_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_id} week of {self.week}: {self.metric}"
