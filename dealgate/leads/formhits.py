"""The per-address rate limit of anonymous captures, counted in the database.

Two doors take in what strangers send: the lead form (dealgate.leads.webform)
and the lead API with a `capture` token, which sits in a website's page where
anyone may copy it (dealgate.api.leads). Both are held to this one limit,
per client address (dealgate.web.client), with the same settings.

Each submission is counted at the moment its sender posted it by the wall
clock (`FormHit`), and a new one is let through while fewer than the limit
were posted in the sliding window of the seconds before it: never more than
the limit in any such span. The check and the count are one step, taken
before anything is captured (`take_hit`): on SQLite in a transaction that
holds the write lock from its start, on PostgreSQL under a transaction lock
on the client's key, so that submissions sent at once are counted one after
the other and those past the limit refused. A submission refused afterwards
(it does not read, or a check of the capture refuses it) gives its count back
(`give_back`): its visitor received nothing and may correct it and send it
again.

While SQLite is busy with another writer nothing can be counted there; a
submission is then checked against the database and the spool (dealgate.
leads.spool) under the spool's lock for its sender (`spool.sender_lock`),
kept there, counted from the spool while it waits, and in the database by
the sweeper that takes it in (`count_hit`), in the window it was posted in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F, Sum

from dealgate import timesource
from dealgate.web.busy import is_busy

from .models import FormHit

log = logging.getLogger("dealgate.leads")

DEFAULT_RATE_LIMIT = 5
DEFAULT_RATE_WINDOW = 600
# The first key of PostgreSQL's transaction locks on a client (`take_hit`),
# the second is the client's: no other lock of ours uses this one.
LOCK_SPACE = 0x464F524D


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


def take_hit(client: str, at: dt.datetime) -> bool:
    """Count one submission `client` posted at `at` if fewer than the limit
    were counted in its sliding window (in the database, and waiting in the
    spool); False, counting nothing, when the limit is reached. The check and
    the count are one step, so that submissions sent at once are held to the
    limit. Raises the busy error while another writer holds SQLite."""
    from . import spool  # which imports this module

    allowed, _ = rate_limit()
    since = window_from(at)
    with transaction.atomic():
        # On SQLite the transaction holds the write lock from its start
        # (transaction_mode IMMEDIATE); PostgreSQL locks the client's key.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(lock_sql(), [LOCK_SPACE, client])
        if counted(client, since) + spool.waiting_from(client, since) >= allowed:
            return False
        count_hit(client, at)
    return True


def lock_sql() -> str:
    """PostgreSQL's statement taking a client's lock until the transaction
    ends (parameters: LOCK_SPACE, the client)."""
    return "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"


def give_back(client: str, at: dt.datetime) -> None:
    """Forget one submission `take_hit` counted for `client` at `at`: it was
    refused after all, and received nothing."""
    hits = FormHit.objects.filter(client=client, window_start=stamp(at))
    with transaction.atomic():
        hits.filter(count__lte=1).delete()
        hits.filter(count__gt=1).update(count=F("count") - 1)


@dataclass
class Slot:
    """One submission's place under the limit (`held`)."""

    client: str
    at: dt.datetime
    allowed: bool
    # Counted in the database already; else (SQLite busy) it counts from the
    # spool while it waits there, and in the database once taken in.
    counted: bool

    @property
    def sender(self) -> str:
        """The sender a kept submission is filed under: the client, for the
        spool to count, unless the database counted it already."""
        return "" if self.counted else self.client

    def count_on_capture(self) -> Callable[[], object] | None:
        """What to run in the capture's transaction: counting the hit, unless
        the database counted it already."""
        if self.counted:
            return None
        return lambda: count_hit(self.client, self.at)

    def give_back(self) -> None:
        """The submission was refused after all: forget its count. While
        another writer holds SQLite it stays counted until its window ends."""
        if not self.counted:
            return
        try:
            give_back(self.client, self.at)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            log.info(
                "a refused submission stays counted against its sender's "
                "rate limit: the database is busy with another writer"
            )
        self.counted = False


@contextlib.contextmanager
def held(client: str, at: dt.datetime) -> Iterator[Slot]:
    """The place of a submission `client` posted at `at`, for as long as it is
    being captured or kept; `allowed` False when the limit is reached. Counted
    at once (`take_hit`); while another writer holds SQLite, checked under
    the spool's lock for the sender, which is held until the submission is
    kept (`spool.sender_lock`)."""
    from . import spool  # which imports this module

    try:
        allowed = take_hit(client, at)
    except OperationalError as exc:
        if not is_busy(exc):
            raise
    else:
        yield Slot(client, at, allowed=allowed, counted=allowed)
        return
    with spool.sender_lock(client):
        allowed, _ = rate_limit()
        since = window_from(at)
        hits = counted(client, since) + spool.waiting_from(client, since)
        yield Slot(client, at, allowed=hits < allowed, counted=False)
