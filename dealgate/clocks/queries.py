"""Read models: what is running out, for the Today page, the board and a deal.

An open obligation is a running clock, or a breached one not yet put right.
Every list here is one query over the clocks (with their deal, lead, stage,
task and person joined); time left is counted per row in business time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from dealgate.accounts.models import User
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline

from .models import Clock
from .notices import subject_url
from .timeleft import TimeLeft, time_left

OPEN = Q(state=Clock.State.RUNNING) | Q(state=Clock.State.BREACHED, resolved_at=None)


@dataclass(frozen=True)
class Deadline:
    """One open obligation and how much business time it has left."""

    clock: Clock
    left: TimeLeft
    # For a breached clock still in its second window: time until escalation.
    escalation: TimeLeft | None = None

    @property
    def text(self) -> str:
        """E.g. "answer within 3 business minutes", "2 business days over the
        limit"; with ", escalates to the manager within 1 business day" while
        a breached clock's second window runs."""
        if self.escalation is not None and not self.escalation.overdue:
            return f"{self.left.text}, {self.escalation.text}"
        return self.left.text

    @property
    def overdue(self) -> bool:
        return self.left.overdue

    @property
    def kind(self) -> str:
        return self.clock.kind

    @property
    def subject(self) -> str:
        if self.clock.deal_id is not None:
            return self.clock.deal.title
        return self.clock.lead.label

    @property
    def url(self) -> str:
        return subject_url(self.clock.deal_id, self.clock.lead_id)

    @property
    def task(self) -> str:
        return self.clock.activity.subject if self.clock.activity_id else ""

    @property
    def zone(self) -> str:
        """The time zone of the pipeline's calendar, which due times are shown in."""
        return calendar_for(self.clock.pipeline).timezone

    @property
    def person(self) -> str:
        person = self.clock.responsible
        return person.display_name if person else "nobody"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Today:
    """A person's (or a manager's team's) open obligations, most urgent first."""

    people: list[User]
    windows: list[Deadline]
    over_limit: list[Deadline]
    next_steps: list[Deadline]

    @property
    def empty(self) -> bool:
        return not (self.windows or self.over_limit or self.next_steps)


def deadlines(clocks: Iterable[Clock], now: dt.datetime) -> list[Deadline]:
    """Deadlines for `clocks` (pipeline loaded), most urgent first: the most
    overdue, then the least time left."""
    found = []
    for clock in clocks:
        calendar = calendar_for(clock.pipeline)
        escalation = None
        if clock.escalate_at is not None and clock.escalated_at is None:
            escalation = time_left(calendar, "escalation", clock.escalate_at, now)
        left = time_left(calendar, clock.kind, clock.due_at, now)
        found.append(Deadline(clock, left, escalation))
    return sorted(found, key=lambda d: (d.left.minutes, d.clock.pk))


def _open_clocks() -> QuerySet[Clock]:
    return Clock.objects.filter(OPEN).select_related(
        "pipeline", "deal", "lead", "stage", "activity", "lead_task", "responsible"
    )


def deadlines_for_deals(
    deal_ids: Iterable[int], now: dt.datetime
) -> dict[int, list[Deadline]]:
    """Open deadlines of many deals at once (one query), for board cards:
    `{deal id: [Deadline, ...]}`, each list most urgent first."""
    by_deal: dict[int, list[Deadline]] = {}
    clocks = _open_clocks().filter(deal_id__in=list(deal_ids))
    for deadline in deadlines(clocks, now):
        by_deal.setdefault(deadline.clock.deal_id, []).append(deadline)
    return by_deal


def at_risk_deals(deal_ids: Iterable[int]) -> set[int]:
    """Which of these deals a breached clock keeps at risk (one query)."""
    return set(
        Clock.objects.filter(deal_id__in=list(deal_ids), at_risk=True)
        .values_list("deal_id", flat=True)
        .distinct()
    )


def deadlines_for_deal(deal_id: int, now: dt.datetime) -> list[Deadline]:
    """Open deadlines of one deal, most urgent first."""
    return deadlines(_open_clocks().filter(deal_id=deal_id), now)


def people_seen_by(user: User) -> list[User]:
    """Whose obligations `user` sees: their own, a manager's teams', and
    everyone's for an admin (the owner who runs sales)."""
    people = {user.pk: user}
    members = User.objects.none()
    if user.role == User.Role.ADMIN:
        members = User.objects.filter(is_active=True)
    elif user.is_manager:
        members = User.objects.filter(team__manager=user, is_active=True)
    for member in members:
        people[member.pk] = member
    return sorted(people.values(), key=lambda p: (p.pk != user.pk, p.display_name))


def today_for(people: list[User], now: dt.datetime) -> Today:
    """What `people` must act on: breached windows and those due within a
    business day, deals past their age limit, next steps due within a
    business day or overdue. One query for the clocks, one per pipeline for
    what "within a business day" means in its calendar."""
    found = deadlines(today_clocks(people, now), now)
    windows = [d for d in found if d.kind == Clock.Kind.RESPONSE]
    over_limit = [d for d in found if d.kind == Clock.Kind.AGE and d.overdue]
    next_steps = [d for d in found if d.kind == Clock.Kind.NEXT_STEP]
    return Today(people, windows, over_limit, next_steps)


def today_clocks(people: list[User], now: dt.datetime) -> QuerySet[Clock]:
    """The open clocks of `people` that Today shows (read through the index of
    each person's clocks by state and due time)."""
    soon, latest = Q(), now
    for pipeline_id, calendar in _calendars_of(people):
        cutoff = business_time.add_business_days(calendar, now, 1)
        soon |= Q(pipeline_id=pipeline_id, due_at__lte=cutoff)
        latest = max(latest, cutoff)
    # Running clocks are bounded by the latest cutoff of all pipelines.
    # Breached ones are not: their due time may lie after a `now` that was
    # moved back (a demo's as-of date).
    running = Q(state=Clock.State.RUNNING, due_at__lte=latest) & (
        soon | Q(kind=Clock.Kind.AGE, due_at__lte=now)
    )
    if not soon:
        running &= Q(kind=Clock.Kind.AGE)
    return (
        _open_clocks()
        .filter(responsible__in=people)
        .filter(running | Q(state=Clock.State.BREACHED))
    )


def _calendars_of(people: list[User]) -> list[tuple[int, Calendar]]:
    # Every pipeline: a team runs a handful, and their calendars are cached.
    return [
        (pipeline.pk, calendar_for(pipeline)) for pipeline in Pipeline.objects.all()
    ]
