"""What a clock says to a person: "answer within 3 business minutes",
"2 business days over the limit". Counted with dealgate.core.business_time in
the pipeline's calendar, so nights, weekends and holidays never count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.text import counted

# What a clock asks for, running and over, by kind; {span} is business time.
_RUNNING = {
    "response": "answer within {span}",
    "age": "{span} left in this stage",
    "next_step": "next step due within {span}",
    "escalation": "escalates within {span}",
}
# Not due yet, but no business time is left before it: due in closed hours
# (a task due on a Saturday, read on Friday evening). Nothing can be done in
# business time before it is due, so no minute is claimed.
_BEFORE_OPENING = {
    "response": "the window runs out before business hours resume",
    "age": "reaches the limit before business hours resume",
    "next_step": "next step due before business hours resume",
    "escalation": "escalates before business hours resume",
}
# All its business time used, but not late yet: in the closed hours after a
# due time at closing. Late from the next opening on (docs/clocks.md, "Late").
_AT_LIMIT = {
    "response": "no time left in the window: answer first thing",
    "age": "at the limit",
    "next_step": "next step due first thing",
    "escalation": "escalates first thing",
}
# At the late-after instant itself: all its business time used, and an
# action now still on time (docs/clocks.md, "Late"), late from the next moment.
_DUE_NOW = {
    "response": "no time left in the window: answer now",
    "age": "at the limit",
    "next_step": "next step due now",
    "escalation": "escalates now",
}
# Late, but not a business minute over yet.
_JUST_OVER = {
    "response": "no answer, the window has run out",
    "age": "at the limit",
    "next_step": "next step due now",
    "escalation": "escalated",
}
_OVER = {
    "response": "no answer, {span} over the window",
    "age": "{span} over the limit",
    "next_step": "next step {span} overdue",
    "escalation": "escalated {span} ago",
}


@dataclass(frozen=True)
class TimeLeft:
    """Business minutes until a clock's due time (negative once past it), and
    whether it is late: after its late-after instant (the first working
    instant at or after the due time), as the sweep sees it. In the closed
    hours after a due time at closing nothing is left and it is not late."""

    kind: str
    minutes: float
    day_minutes: float
    late: bool = False
    # Not due yet, with no business minute left before the due time.
    before_opening: bool = False
    # At the late-after instant: nothing left, and not late yet.
    due_now: bool = False

    @property
    def overdue(self) -> bool:
        return self.late

    @property
    def text(self) -> str:
        if self.before_opening:
            return _BEFORE_OPENING.get(self.kind, "due before business hours resume")
        if self.due_now:
            return _DUE_NOW.get(self.kind, "due now")
        if not self.late and self.minutes <= 0:
            return _AT_LIMIT.get(self.kind, "no time left")
        if self.overdue and self.minutes > -1:
            return _JUST_OVER.get(self.kind, "run out")
        span = format_span(abs(self.minutes), self.day_minutes)
        table = _OVER if self.overdue else _RUNNING
        return table.get(self.kind, "{span}").format(span=span)

    def __str__(self) -> str:
        return self.text


def time_left(
    calendar: Calendar, kind: str, due_at: dt.datetime, now: dt.datetime
) -> TimeLeft:
    """How much business time is left before `due_at` (or is over it) at `now`.
    The clock is late once `now` is past the first working instant at or
    after `due_at` (`Clock.late_after`: `due_at` itself when that is working
    time, else the next opening), as the sweep sees it; at that instant a
    stop is still on time, so it is not late yet."""
    if now < due_at:
        minutes = business_time.between(calendar, now, due_at)
        if minutes <= 0:
            # Due in closed hours that no business minute precedes: not
            # overdue (a tiny positive count keeps it so, and orders it
            # after those that are), but no minute left to claim either.
            return TimeLeft(kind, 1e-9, calendar.day_minutes, before_opening=True)
    else:
        minutes = -business_time.between(calendar, due_at, now)
    late_after = business_time.next_opening(calendar, due_at)
    late, due_now = now > late_after, now == late_after
    return TimeLeft(kind, minutes, calendar.day_minutes, late, due_now=due_now)


def format_span(minutes: float, day_minutes: float) -> str:
    """Business minutes in the largest unit that fits: "3 business minutes",
    "5 business hours", "2 business days". Whole units, rounded down, never
    below one, so a window about to run out reads "1 business minute"."""
    if minutes < 60:
        count, unit = math.floor(minutes), "minute"
    elif minutes < day_minutes:
        count, unit = math.floor(minutes / 60), "hour"
    else:
        count, unit = math.floor(minutes / day_minutes), "day"
    count = max(count, 1)
    return counted(count, f"business {unit}")
