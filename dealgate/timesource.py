"""The application's one source of "now".

Everything that needs the current time asks `now()`. Demos on historical data
set an as-of instant (`DEALGATE_AS_OF`, or `--as-of` on the command line, or
one the database records: `dealgate demo` records the date it ran at, which
holds while the demo's pipeline is the database's only one) and
tests freeze it with `frozen_at`, so nothing ever sleeps or reads the wall clock
behind our back.

A process that runs until stopped (a server's worker, the sweeper loop) reads
the recorded date again now and then (`refresh_recorded_as_of`), so it follows
the database without a restart.

A date alone ("2017-12-31") means the end of that day in the zone the
database's pipelines show their times in (`as_of_zone`), so that the board,
insights and every page dated in a pipeline's zone read that very day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from dealgate.core.dates import years_problem

# How many seconds a process that runs until stopped keeps the as-of date it
# read from the database before it asks again (refresh_recorded_as_of).
RECORDED_MAX_AGE = 2.0

_override: dt.datetime | None = None
# The as-of date a command runs a block of its work at (running_at).
_running_at = ""
# The database's own as-of date (see use_recorded_as_of): whether to ask for
# it, its answer once asked (None: not yet) and when it was asked.
_use_recorded = False
_recorded: str | None = None
_recorded_at = 0.0
_recorded_zone = "UTC"
# The zone a date-only as-of ends its day in (as_of_zone): None, not asked yet.
_zone: str | None = None
_zone_at = 0.0
# What _recorded_at is read from; tests move it instead of sleeping.
_monotonic = time.monotonic


def parse_as_of(text: str, zone: str = "UTC") -> dt.datetime:
    """Parse `2017-12-31` (the end of that day in `zone`, an IANA name) or a
    full ISO instant; the answer is in UTC. Its day keeps to the years every
    door keeps to (`core.dates`)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            value = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=ZoneInfo(zone))
        else:
            value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"as-of must be a date (2017-12-31) or an ISO instant; got {text!r}"
        ) from exc
    if value.tzinfo is None:
        raise ValueError(f"as-of instant {text!r} needs a UTC offset")
    problem = years_problem(value.date())
    if problem is not None:
        raise ValueError(f"as-of {problem}")
    return value.astimezone(dt.UTC)


def is_day(text: str) -> bool:
    """Whether an as-of text is a date alone (its instant depends on a zone)."""
    return len(text.strip()) == 10


def as_of_zone() -> str:
    """The zone a date-only as-of ends its day in: the one the database's
    pipelines show their times in (dealgate.pipelines.calendars.shown_zone),
    the server's (settings.TIME_ZONE) when they have none, differ, or the
    database cannot say. Asked once and kept as the recorded as-of is: until
    a pipeline is saved or deleted here, or a server's request or the
    sweeper's tick starts `RECORDED_MAX_AGE` seconds later."""
    global _zone, _zone_at
    if _zone is None:
        _zone, _zone_at = _pipelines_zone(), _monotonic()
    return _zone


def forget_as_of_zone() -> None:
    """Let the next date-only as-of ask its zone again (a pipeline changed)."""
    global _zone
    _zone = None


def _pipelines_zone() -> str:
    from django.db import DatabaseError, connection, transaction

    from dealgate.pipelines.calendars import shown_zone
    from dealgate.pipelines.models import Pipeline

    name = connection.settings_dict["NAME"]
    sqlite = connection.vendor == "sqlite"
    if sqlite and not connection.is_in_memory_db() and not Path(name).exists():
        return settings.TIME_ZONE
    savepoint = transaction.atomic() if connection.in_atomic_block else None
    try:
        with savepoint or contextlib.nullcontext():
            return shown_zone(Pipeline.objects.only("pk", "calendar"))
    except DatabaseError:
        return settings.TIME_ZONE


def now() -> dt.datetime:
    """The current instant, in UTC: the frozen or as-of time if one is set
    (pinned, then a command's block, then DEALGATE_AS_OF, then the database's
    own, then real time)."""
    if _override is not None:
        return _override
    as_of = _running_at or settings.AS_OF
    if as_of:
        return parse_as_of(as_of, as_of_zone() if is_day(as_of) else "UTC")
    recorded = _database_as_of()
    if recorded:
        return parse_as_of(recorded, _recorded_zone)
    return timezone.now()


def recorded_as_of() -> str:
    """The as-of date the database records and that holds, or "" if none.

    A recorded date (the demo's) holds only while the demo's pipeline is the
    database's only one: once it holds a pipeline of someone's own, that
    work, and the demo's beside it, runs at the real time (the sweep still
    judges the clocks the demo started at the recorded date:
    dealgate.clocks.sweep).

    Also "" when the database cannot say: not set up or not upgraded yet, or
    not reachable (a command that needs it says so itself). Asking creates no
    SQLite file that is not there, and inside a transaction a failure rolls
    back to a savepoint, so the transaction goes on. One query, written out:
    a server asks every few seconds, and the ORM took 25 times as long to
    build it as the database to answer it (about 1 ms against 40 us on
    SQLite on the project machine).
    """
    from django.db import DatabaseError, connection, transaction

    from dealgate.clocks.models import AsOf
    from dealgate.demo.loader import PIPELINE_KEY
    from dealgate.pipelines.models import Pipeline

    name = connection.settings_dict["NAME"]
    sqlite = connection.vendor == "sqlite"
    if sqlite and not connection.is_in_memory_db() and not Path(name).exists():
        return ""
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('value')} FROM {quote(AsOf._meta.db_table)} WHERE NOT "
        f"EXISTS (SELECT 1 FROM {quote(Pipeline._meta.db_table)} "
        f"WHERE {quote('key')} <> %s)"
    )
    # Outside one no transaction is opened: on SQLite that takes the write lock.
    savepoint = transaction.atomic() if connection.in_atomic_block else None
    try:
        with savepoint or contextlib.nullcontext(), connection.cursor() as cursor:
            cursor.execute(sql, [PIPELINE_KEY])
            found = cursor.fetchone()
    except DatabaseError:
        return ""
    return found[0] if found else ""


def record_as_of(text: str) -> None:
    """Make every command on this database, and the pages it serves, run at
    `text` (a date or an ISO instant, as for DEALGATE_AS_OF) unless
    DEALGATE_AS_OF or --as-of gives another, while the demo's pipeline is the
    database's only one; the sweep judges the clocks the demo started at
    `text` in any case."""
    from dealgate.clocks.models import AsOf

    parse_as_of(text)
    AsOf.objects.update_or_create(pk=1, defaults={"value": text})


def use_recorded_as_of(use: bool = True) -> None:
    """Whether `now()` falls back to the as-of the database records when
    DEALGATE_AS_OF (or --as-of) sets none. The `dealgate` command and
    dealgate.wsgi (so any WSGI server) turn it on: the database is asked the
    first time the process needs the time, so a command that never does never
    asks. A command keeps what it read to its end; a server or the sweeper
    loop asks again as it starts a request or a tick (refresh_recorded_as_of).
    """
    global _use_recorded, _recorded, _zone
    _use_recorded, _recorded, _zone = use, None, None


def refresh_recorded_as_of(max_age: float = RECORDED_MAX_AGE) -> None:
    """Let the next `now()` ask the database for its as-of date again, if
    this process read it `max_age` seconds ago or longer.

    For processes that run until stopped, so they follow the database with
    no restart when a pipeline of one's own is applied or the demo loaded
    again: dealgate.wsgi calls it as each request starts, the sweeper loop as
    each tick starts; never in the middle of one, so that a request or a
    sweep runs at one time throughout. It makes no query itself: the next
    `now()` makes recorded_as_of's one, so a busy worker asks at most once
    every `max_age` seconds and one that serves nothing never asks.
    """
    global _recorded, _zone
    if _recorded is not None and _monotonic() - _recorded_at >= max_age:
        _recorded = None
    if _zone is not None and _monotonic() - _zone_at >= max_age:
        _zone = None


@contextlib.contextmanager
def running_at(text: str) -> Iterator[None]:
    """Run the block as of `text` (a date or an ISO instant), as
    DEALGATE_AS_OF would, while the rest of the process keeps its own time:
    `dealgate demo` loads at its date and then serves at the database's."""
    global _running_at
    parse_as_of(text)
    previous, _running_at = _running_at, text
    try:
        yield
    finally:
        _running_at = previous


def _database_as_of() -> str:
    global _recorded, _recorded_at, _recorded_zone
    if not _use_recorded:
        return ""
    if _recorded is None:
        _recorded, _recorded_at = recorded_as_of(), _monotonic()
        # Read with it and kept as long: a command keeps its date to its end.
        _recorded_zone = _pipelines_zone() if is_day(_recorded) else "UTC"
    return _recorded


def wall_now() -> dt.datetime:
    """The real current instant, for limits that count real time (how often
    a visitor may post the lead form): the pinned instant in tests, but never
    a demo's as-of date, under which such a window would never end."""
    if _override is not None:
        return _override
    return timezone.now()


def set_now(value: dt.datetime | None) -> None:
    """Pin `now()` to an instant for the whole process (None: back to normal)."""
    global _override
    if value is not None and value.tzinfo is None:
        raise ValueError("the pinned instant must be aware")
    _override = value.astimezone(dt.UTC) if value is not None else None


@contextlib.contextmanager
def frozen_at(value: dt.datetime) -> Iterator[None]:
    previous = _override
    set_now(value)
    try:
        yield
    finally:
        set_now(previous)
