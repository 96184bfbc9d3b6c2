"""The calendar a pipeline counts business time in, built once and reused.

A `Calendar` keeps its working intervals per year after first use, so handing
out the same object for the same table is what makes every later call cheap.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from dealgate.core.calendar import Calendar

from .models import Pipeline


@lru_cache(maxsize=64)
def _calendar_from_json(table: str) -> Calendar:
    return Calendar.from_dict(json.loads(table))


def calendar_for(pipeline: Pipeline) -> Calendar:
    """The pipeline's calendar; Mon-Fri 09:00-17:00 in the server's zone
    (settings.TIME_ZONE, UTC by default) when the pipeline has none."""
    if not pipeline.calendar:
        return _default_calendar(settings.TIME_ZONE)
    return calendar_from_table(pipeline.calendar)


def shown_zone(pipelines: Iterable[Pipeline]) -> str:
    """The time zone a page shows times about `pipelines` in: their calendar's
    (`calendar_for`), as the deal and lead pages and Today show theirs; the
    server's (settings.TIME_ZONE, a pipeline's without a calendar) when there
    are none or their zones differ. Pages name the zone beside the times."""
    zones = {calendar_for(pipeline).timezone for pipeline in pipelines}
    return zones.pop() if len(zones) == 1 else settings.TIME_ZONE


def local_time(at: dt.datetime, zone: str = "UTC") -> str:
    """`at` as a person reads it in `zone` (an IANA name), naming the zone:
    "2026-06-20 09:00 Europe/Berlin"."""
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def pipeline_time(at: dt.datetime, pipeline: Pipeline | None) -> str:
    """`at` in words in `pipeline`'s zone (`calendar_for`), which it names, as
    its pages show times; in UTC when no pipeline applies."""
    return local_time(at, calendar_for(pipeline).timezone if pipeline else "UTC")


def calendar_from_table(table: Mapping[str, Any]) -> Calendar:
    """A calendar for a `[calendar]` table (a pipeline's or a person's), built
    once per distinct table. Raises CalendarError for a table that is wrong."""
    return _calendar_from_json(json.dumps(table, sort_keys=True))


@lru_cache(maxsize=8)
def _default_calendar(zone: str) -> Calendar:
    return Calendar.office_hours(zone)
