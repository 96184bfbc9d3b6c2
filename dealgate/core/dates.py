"""The years a date a person gives may fall in, one range at every door.

A deal's expected close date, its custom date fields, a task's due date, the
days a calendar closes, an import's date cells, the days insights and the
weekly review are asked about and an as-of date all keep to FIRST_YEAR to
LAST_YEAR: a year inside the 1900-2199 that business time is kept for
(`business_time`) at each end, as a day read in one time zone may be the day
before or after in another. So a typo (0001, 20266) is refused naming the
field, never stored to meet a criterion such as "a calendar slot is
confirmed" or to date a clock that business time cannot count.
"""

from __future__ import annotations

import datetime as dt

FIRST_YEAR, LAST_YEAR = 1901, 2198


def years_problem(day: dt.date) -> str | None:
    """Why `day` is refused ("must lie between 1901 and 2198, not in 1"), for
    the caller to put after the field's name; None when it is in range."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    return f"must lie between {FIRST_YEAR} and {LAST_YEAR}, not in {day.year}"
