"""Read models: what is running out, for the Today page, the board and a deal.

An open obligation is a running clock, or a breached one not yet put right.
Every list here is one query over the clocks (with their deal, lead, stage,
task and person joined); time left is counted per row in business time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from dealgate.accounts.models import User
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline

from .models import Clock
from .notices import subject_url
from .services import TAKEN_OVER
from .sweep import taken_over_escalation
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
        if person is not None:
            return person.display_name
        if self.clock.lead_id is not None:
            return "the admins (no owner yet)"
        return "the admins (no one is responsible)"

    def __str__(self) -> str:
        return self.text


# Today lists at most this many obligations per section, most urgent first;
# the rest are counted and shown a page at a time.
TODAY_LIMIT = 50


# Where a page of one of Today's sections ends: for each pipeline (by id) it
# showed clocks of, the last one's due time and id. Within one calendar an
# earlier due time never has more business time left, so the clocks of a
# pipeline come in (due time, id) order, and the next page is those after
# each pipeline's place: a clock met meanwhile never moves a later one past
# the link read before, as counting rows from an offset did.
Places = dict[int, tuple[dt.datetime, int]]


def write_places(places: Places) -> str:
    """`places` as a "more" link writes them: `PIPELINE:DUE,ID`, `;` between."""
    return ";".join(
        f"{pipeline}:{due.isoformat()},{pk}"
        for pipeline, (due, pk) in sorted(places.items())
    )


def read_places(text: str) -> Places:
    """The Places `write_places` wrote as `text`; ValueError for anything
    else."""
    places: Places = {}
    for part in text.split(";"):
        pipeline, colon, rest = part.partition(":")
        due, comma, pk = rest.rpartition(",")
        if not (colon and comma):
            raise ValueError(part)
        ids = [int(n) for n in (pipeline, pk) if n.isascii() and n.isdigit()]
        at = dt.datetime.fromisoformat(due)
        if len(ids) != 2 or at.tzinfo is None or ids[0] in places:
            raise ValueError(part)
        try:
            # In UTC here: one past the years a column holds is refused,
            # not left to overflow in the database's adapter.
            places[ids[0]] = (at.astimezone(dt.UTC), ids[1])
        except OverflowError:
            raise ValueError(part) from None
    return places


def _after(places: Places) -> Q:
    """The clocks after `places`: of a pipeline they do not name, or after
    its place in (due time, id) order."""
    after = ~Q(pipeline_id__in=list(places))
    for pipeline, (due, pk) in places.items():
        after |= Q(pipeline_id=pipeline) & (
            Q(due_at__gt=due) | Q(due_at=due, pk__gt=pk)
        )
    return after


@dataclass(frozen=True)
class Section:
    """One of Today's lists: a page of its deadlines, most urgent first, how
    many of the list come before it (`before`), how many the whole list
    holds, and where the page ends (`places`)."""

    key: str
    deadlines: list[Deadline]
    before: int
    count: int
    places: Places

    @property
    def first(self) -> int:
        """The position of the page's first deadline in the list, from 1."""
        return self.before + 1

    @property
    def last(self) -> int:
        return self.before + len(self.deadlines)

    @property
    def more(self) -> int:
        """How many come after this page."""
        return max(0, self.count - self.last)

    @property
    def next_place(self) -> str:
        """Where the next page starts, as the "more" link writes it."""
        return write_places(self.places)


@dataclass(frozen=True)
class Today:
    """A person's (or a manager's team's) open obligations, most urgent first."""

    people: list[User]
    windows: Section
    over_limit: Section
    next_steps: Section

    @property
    def empty(self) -> bool:
        return not (
            self.windows.count or self.over_limit.count or self.next_steps.count
        )


def deadlines(clocks: Iterable[Clock], now: dt.datetime) -> list[Deadline]:
    """Deadlines for `clocks` (pipeline loaded), most urgent first: the most
    overdue, then the least time left; the earlier due time, then the older
    clock, among those with the same business time left."""
    found = []
    for clock in clocks:
        calendar = calendar_for(clock.pipeline)
        escalation = None
        if clock.escalate_at is not None and clock.escalated_at is None:
            at: dt.datetime | None = clock.escalate_at
            if TAKEN_OVER in clock.actions.split(","):
                # Taken over after it ran out: its new owner's second window,
                # which the next sweep schedules, not the takeover's instant.
                at = taken_over_escalation(clock)
            if at is not None:
                escalation = time_left(calendar, "escalation", at, now)
        left = time_left(calendar, clock.kind, clock.due_at, now)
        found.append(Deadline(clock, left, escalation))
    return sorted(found, key=lambda d: (d.left.minutes, d.clock.due_at, d.clock.pk))


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


def today_for(
    people: list[User], now: dt.datetime, *, limit: int = TODAY_LIMIT
) -> Today:
    """What `people` must act on: breached windows and those due within a
    business day, deals past their age limit, next steps due within a
    business day or overdue; the first `limit` of each (see today_section)."""
    counts = _section_counts(people, now)
    return Today(
        people,
        *(
            today_section(people, now, key, limit=limit, counts=counts[key])
            for key in SECTIONS
        ),
    )


# Today's sections and which of Today's clocks each lists.
SECTIONS = ("windows", "over_limit", "next_steps")


def _section_filter(key: str, now: dt.datetime) -> Q:
    if key == "windows":
        return Q(kind=Clock.Kind.RESPONSE)
    if key == "over_limit":
        # Overdue as TimeLeft says it: after `late_after`, never in the
        # closed hours after a due time at closing nor at that instant.
        return Q(kind=Clock.Kind.AGE, late_after__lt=now)
    if key == "next_steps":
        return Q(kind=Clock.Kind.NEXT_STEP)
    raise ValueError(f"section must be one of {', '.join(SECTIONS)}; got {key!r}")


def today_section(
    people: list[User],
    now: dt.datetime,
    key: str,
    *,
    after: Places | None = None,
    limit: int = TODAY_LIMIT,
    counts: dict[int, int] | None = None,
) -> Section:
    """The deadlines of one of Today's sections after `after` (from the
    start without it), at most `limit`, most urgent first, with the
    section's count.

    With the clocks of one pipeline the page is read in due-time order.
    With several, the first `limit` of each after its place are ranked by
    business time left, read as three columns; the page takes a prefix of
    each pipeline's, so its places leave none behind. Three queries (two
    given `counts`, the section's clocks per pipeline id), one more to count
    what comes before a page after `after`, and one for the pipelines."""
    clocks = today_clocks(people, now).filter(_section_filter(key, now))
    if counts is None:
        counts = _section_counts(people, now)[key]
    count = sum(counts.values())
    places = dict(after or {})
    before = 0
    if after:
        clocks = clocks.filter(_after(after))
        before = max(0, count - clocks.count()) if count else 0
    if before >= count:
        return Section(key, [], before, count, places)

    by_due = clocks.order_by("due_at", "pk")
    if len(counts) == 1:
        chosen = list(by_due.values_list("pk", flat=True)[:limit])
    else:
        chosen = _ranked(by_due, now, limit)
    page = deadlines(_open_clocks().filter(pk__in=chosen), now)
    for deadline in page:
        clock = deadline.clock
        shown = (clock.due_at, clock.pk)
        places[clock.pipeline_id] = max(places.get(clock.pipeline_id, shown), shown)
    return Section(key, page, before, count, places)


def _section_counts(people: list[User], now: dt.datetime) -> dict[str, dict[int, int]]:
    """How many clocks each of Today's sections lists, per pipeline id: one
    GROUP BY over Today's clocks."""
    rows = (
        today_clocks(people, now)
        .order_by()
        .values_list("kind", "pipeline_id")
        .annotate(clocks=Count("pk"), overdue=Count("pk", filter=Q(late_after__lt=now)))
    )
    counts: dict[str, dict[int, int]] = {key: {} for key in SECTIONS}
    for kind, pipeline_id, clocks, overdue in rows:
        if kind == Clock.Kind.RESPONSE:
            counts["windows"][pipeline_id] = clocks
        elif kind == Clock.Kind.NEXT_STEP:
            counts["next_steps"][pipeline_id] = clocks
        elif kind == Clock.Kind.AGE and overdue:
            counts["over_limit"][pipeline_id] = overdue
    return counts


def _ranked(clocks: QuerySet[Clock], now: dt.datetime, limit: int) -> list[int]:
    """Ids of the first `limit` of `clocks` in the order of `deadlines`,
    from the first `limit` of each pipeline."""
    first = Window(
        RowNumber(), partition_by=[F("pipeline_id")], order_by=[F("due_at"), F("pk")]
    )
    ranked = list(
        clocks.annotate(place=first)
        .filter(place__lte=limit)
        .values_list("pk", "pipeline_id", "due_at", "kind")
    )
    calendars = {
        pipeline.pk: calendar_for(pipeline)
        for pipeline in Pipeline.objects.filter(pk__in={row[1] for row in ranked})
    }
    ranked.sort(
        key=lambda row: (
            time_left(calendars[row[1]], row[3], row[2], now).minutes,
            row[2],
            row[0],
        )
    )
    return [row[0] for row in ranked[:limit]]


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
        soon | Q(kind=Clock.Kind.AGE, late_after__lt=now)
    )
    if not soon:
        running &= Q(kind=Clock.Kind.AGE)
    return (
        _open_clocks()
        .filter(_whose(people))
        .filter(running | Q(state=Clock.State.BREACHED))
    )


def _whose(people: list[User]) -> Q:
    """The clocks of `people`, and those with no one responsible that they
    answer for: a clock with nobody responsible (a lead no rule could place,
    a deal with no owner) is escalated to the admins, so an admin among
    `people` sees them all; a manager those at the stages their teams own,
    as a team-owned stage routes its deals to them (visibility as in
    `people_seen_by`: teams, not pipelines)."""
    whose = Q(responsible__in=people)
    if any(person.role == User.Role.ADMIN for person in people):
        return whose | Q(responsible__isnull=True)
    managers = [person for person in people if person.role == User.Role.MANAGER]
    if managers:
        whose |= Q(responsible__isnull=True, stage__owner_team__manager__in=managers)
    return whose


def _calendars_of(people: list[User]) -> list[tuple[int, Calendar]]:
    # Every pipeline: a team runs a handful, and their calendars are cached.
    return [
        (pipeline.pk, calendar_for(pipeline)) for pipeline in Pipeline.objects.all()
    ]
