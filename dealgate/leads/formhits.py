"""The lead form's rate limit per client address, counted in the database.

Each accepted submission is counted at the moment its sender posted it by
the wall clock (`FormHit`), and a new one is let through while fewer than the
limit were posted in the sliding window of the seconds before it: never more
than the limit in any such span, also across what were fixed 10-minute
slots (up to twice the limit could pass within seconds there). Both doors
that take a
submission in count through `count_hit`: the form itself when it captures
one, and the spool's sweeper when it takes in one the form kept while SQLite
was busy (dealgate.leads.spool), in the window it was posted in, not the one
it is taken in.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from dealgate import timesource

from .models import FormHit

DEFAULT_RATE_LIMIT = 5
DEFAULT_RATE_WINDOW = 600


def rate_limit() -> tuple[int, int]:
    """(submissions, seconds) allowed per client address."""
    return (
        int(getattr(settings, "LEADS_FORM_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
        int(getattr(settings, "LEADS_FORM_RATE_WINDOW", DEFAULT_RATE_WINDOW)),
    )


def stamp(at: dt.datetime) -> dt.datetime:
    """The time a submission posted at `at` (a wall-clock time) is counted
    at: its own, in UTC. Submissions at the very same moment share a row."""
    return at.astimezone(dt.UTC)


def window_from(at: dt.datetime) -> dt.datetime:
    """The start of the sliding window a submission posted at `at` is
    checked in: the `rate_limit` seconds before it. A submission counts in
    it when posted after this, up to `at`."""
    _, seconds = rate_limit()
    return stamp(at) - dt.timedelta(seconds=seconds)


def counted(client: str, since: dt.datetime) -> int:
    """The submissions counted in the database for `client` posted after
    `since` (the start of a sliding window, `window_from`)."""
    hits = FormHit.objects.filter(client=client, window_start__gt=since)
    return hits.aggregate(total=Sum("count"))["total"] or 0


def retry_after(client: str, at: dt.datetime) -> int:
    """Seconds until the oldest submission counted in the window of `at`
    leaves it, so that one more fits; the whole window when the database
    holds none (those counted are waiting in the spool)."""
    _, seconds = rate_limit()
    oldest = (
        FormHit.objects.filter(client=client, window_start__gt=window_from(at))
        .order_by("window_start")
        .values_list("window_start", flat=True)
        .first()
    )
    if oldest is None:
        return seconds
    left = oldest + dt.timedelta(seconds=seconds) - stamp(at)
    return max(1, math.ceil(left.total_seconds()))


def count_hit(client: str, at: dt.datetime) -> int:
    """Count one submission `client` posted at `at` (wall clock); returns
    how many were posted at that moment. One statement (an upsert) on both
    databases, and one more that forgets submissions older than a day."""
    table = FormHit._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (client, window_start) DO UPDATE "
            f"SET count = {table}.count + 1 RETURNING count",
            [client, connection.ops.adapt_datetimefield_value(stamp(at))],
        )
        count = cursor.fetchone()[0]
    if count == 1:
        # A new row: a cheap moment to forget old ones (form_hit_time).
        cutoff = timesource.wall_now() - dt.timedelta(days=1)
        FormHit.objects.filter(window_start__lt=cutoff).delete()
    return count
