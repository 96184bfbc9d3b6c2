"""The application's one source of "now".

Everything that needs the current time asks `now()`. Demos on historical data
set an as-of instant (`DEALGATE_AS_OF`, or `--as-of` on the command line) and
tests freeze it with `frozen_at`, so nothing ever sleeps or reads the wall clock
behind our back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone

_override: dt.datetime | None = None


def parse_as_of(text: str) -> dt.datetime:
    """Parse `2017-12-31` (end of that day, UTC) or a full ISO instant."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"as-of must be a date (2017-12-31) or an ISO instant; got {text!r}"
        ) from exc
    if value.tzinfo is None:
        raise ValueError(f"as-of instant {text!r} needs a UTC offset")
    return value.astimezone(dt.UTC)


def now() -> dt.datetime:
    """The current instant, in UTC: the frozen or as-of time if one is set."""
    if _override is not None:
        return _override
    if settings.AS_OF:
        return parse_as_of(settings.AS_OF)
    return timezone.now()


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
