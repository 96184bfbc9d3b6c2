"""The lead form's rate limit per client address, counted in the database.

Each accepted submission adds one to its client's window (`FormHit`), the
window its sender posted it in by the wall clock. Both doors that take a
submission in count through `count_hit`: the form itself when it captures
one, and the spool's sweeper when it takes in one the form kept while SQLite
was busy (dealgate.leads.spool), in the window it was posted in, not the one
it is taken in.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection

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


def window_start(at: dt.datetime) -> dt.datetime:
    """The start of the rate window `at` (a wall-clock time) falls in."""
    _, seconds = rate_limit()
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)


def counted(client: str, start: dt.datetime) -> int:
    """The submissions counted in the database for `client` in the window
    from `start`."""
    hit = FormHit.objects.filter(client=client, window_start=start).first()
    return hit.count if hit is not None else 0


def count_hit(client: str, at: dt.datetime) -> int:
    """Count one submission `client` posted at `at` (wall clock); returns its
    window's count so far. One statement (an upsert) on both databases."""
    start = window_start(at)
    table = FormHit._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (client, window_start) DO UPDATE "
            f"SET count = {table}.count + 1 RETURNING count",
            [client, connection.ops.adapt_datetimefield_value(start)],
        )
        count = cursor.fetchone()[0]
    if count == 1:
        # First hit of a window: a cheap moment to forget old windows.
        cutoff = timesource.wall_now() - dt.timedelta(days=1)
        FormHit.objects.filter(window_start__lt=cutoff).delete()
    return count
