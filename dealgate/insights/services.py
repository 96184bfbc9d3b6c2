"""Changes insights make: writing the decision of a weekly review."""

from __future__ import annotations

import datetime as dt
import logging

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core import metrics as m
from dealgate.core.text import check_text
from dealgate.errors import ValidationError

from . import review as rv
from .filters import Filters
from .models import WeeklyReview

log = logging.getLogger("dealgate.insights")

DECISION_LIMIT = 4000


def record_review(
    filters: Filters,
    *,
    week: dt.date,
    metric: str,
    decision: str,
    by: User | None,
) -> WeeklyReview:
    """Write the team's decision for the week of `week` on `metric`.

    Keeps the metric's value for that week as it is now, so the review still
    reads as it was decided when later data arrives. One review per pipeline
    and week: writing again replaces the decision (and the metric, if another
    was chosen). Raises ValidationError naming the field for an empty
    decision or an unknown metric.
    """
    text = decision.strip()
    if not text:
        raise ValidationError("write the decision the team took", field="decision")
    check_text(text, "decision", limit=DECISION_LIMIT)
    chosen, _ = rv.chosen_metric(filters.facts, m.week_start(week), metric or None)
    monday = m.week_start(week)
    value = rv.weekly_series(filters, chosen, monday, weeks=1)[0].value
    unit = filters.pipeline.currency if chosen.kind == "money" else chosen.unit
    review, created = WeeklyReview.objects.update_or_create(
        pipeline=filters.pipeline,
        week=monday,
        defaults={
            "metric": chosen.key,
            "value": value,
            "unit": unit,
            "decision": text,
            "recorded_by": by,
            "recorded_at": timesource.now(),
        },
    )
    log.info(
        "weekly review of pipeline %s for week %s %s: %s by %s",
        filters.pipeline.key,
        monday,
        "written" if created else "rewritten",
        chosen.key,
        by.username if by else "system",
    )
    return review
