"""Changes insights make: writing the decision of a weekly review."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core import metrics as m
from dealgate.core.text import check_text, required_text
from dealgate.errors import Conflict, PermissionDenied, ValidationError

from . import review as rv
from .filters import Filters
from .models import WeeklyReview

log = logging.getLogger("dealgate.insights")

DECISION_LIMIT = 4000
# `replacing` not given: the caller replaces whatever decision is there.
ANY = object()


def record_review(
    filters: Filters,
    *,
    week: dt.date,
    metric: str,
    decision: str,
    by: User | None,
    replacing: int | None | object = ANY,
) -> WeeklyReview:
    """Write the team's decision for the week of `week` on `metric`.

    Keeps the metric's value for that week as it is now, so the review still
    reads as it was decided when later data arrives. One review per pipeline
    and week: writing again replaces the decision (and the metric, if another
    was chosen). The decision is a manager's or an admin's (`by` None is the
    system): PermissionDenied for a rep. ValidationError naming the field for
    a week that has not started yet (its value is not known), an empty
    decision or an unknown metric.

    `replacing` is the version of the decision the writer saw (None: they
    saw none). Another written since, by a second manager writing at once,
    is a Conflict naming it, and nothing is written; without `replacing`
    the decision replaces whatever is there (the command line's use). The
    check compares versions, never times: under a fixed business clock (a
    demo, --as-of) every write is stamped with the same instant.
    """
    if by is not None and not by.is_manager:
        raise PermissionDenied(
            "only a manager or an admin writes the weekly review's decision"
        )
    now = timesource.now()
    monday = m.week_start(week)
    if monday > rv.this_week(filters.facts, now):
        raise ValidationError(
            f"the week of {monday.day} {monday:%B %Y} has not started yet; "
            "a decision is for this week or an earlier one",
            field="week",
        )
    text = required_text(
        decision, "decision", missing="write the decision the team took"
    )
    check_text(text, "decision", limit=DECISION_LIMIT)
    chosen, _ = rv.chosen_metric(filters.facts, monday, metric or None)
    value = rv.weekly_series(filters, chosen, monday, weeks=1)[0].value
    unit = filters.pipeline.currency if chosen.kind == "money" else chosen.unit
    fields = {
        "metric": chosen.key,
        "value": value,
        "unit": unit,
        "decision": text,
        "recorded_by": by,
        "recorded_at": now,
    }
    with transaction.atomic():
        review = (
            WeeklyReview.objects.select_for_update()
            .filter(pipeline=filters.pipeline, week=monday)
            .first()
        )
        seen = review.version if review is not None else None
        if replacing is not ANY and replacing != seen:
            raise _written_since(review, monday)
        created = review is None
        if review is None:
            try:
                with transaction.atomic():
                    review = WeeklyReview.objects.create(
                        pipeline=filters.pipeline, week=monday, **fields
                    )
            except IntegrityError:
                # Another writer made the week's row between the read and
                # this insert.
                raise _written_since(None, monday) from None
        else:
            review = _rewrite(review, fields)
    log.info(
        "weekly review of pipeline %s for week %s %s (version %d): %s by %s",
        filters.pipeline.key,
        monday,
        "written" if created else "rewritten",
        review.version,
        chosen.key,
        by.username if by else "system",
    )
    return review


def _rewrite(review: WeeklyReview, fields: dict) -> WeeklyReview:
    """Write `fields` over `review` if it is still the version read.

    SQLite takes no row lock for select_for_update, so the version is
    checked again in the UPDATE itself: of two writers that read one
    version, the second updates nothing and is told so."""
    written = WeeklyReview.objects.filter(pk=review.pk, version=review.version).update(
        **fields, version=F("version") + 1
    )
    if written != 1:
        now_there = WeeklyReview.objects.filter(pk=review.pk).first()
        raise _written_since(now_there, review.week)
    for name, value in fields.items():
        setattr(review, name, value)
    review.version += 1
    return review


def _written_since(review: WeeklyReview | None, monday: dt.date) -> Conflict:
    who = ""
    if review is not None:
        by = review.recorded_by.display_name if review.recorded_by else "the system"
        who = f" ({by}: {review.decision[:80]!r})"
    return Conflict(
        f"the decision for the week of {monday.day} {monday:%B %Y} was written "
        f"since you opened it{who}; yours is not kept: read that one, then send "
        "yours again to replace it",
        field="decision",
    )
