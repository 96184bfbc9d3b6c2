"""Events start and stop clocks. Every function here is idempotent: calling it
twice for the same event leaves the same rows.

- `deal_moved`: called by `deals.services._apply_move` inside the move's
  transaction. Leaving a stage stops its clocks; entering one starts its age
  clock and the handoff's response window; closing a deal stops them all.
- `deal_created`, `lead_changed`, `activity_saved`: called by the receivers
  in `dealgate.clocks.signals` when those rows are saved, so every door that
  creates deals, assigns or answers leads, or logs activities keeps its clocks
  right without knowing about them.

A clock that ran out and was breached keeps its deal or lead at risk until it
is put right (`resolved_at`): the deal leaves the stage, the lead or deal is
answered, the task is done.

A running clock stopped after its due time (a move, a close, an answer, a
conversion or a restart that came later than the due time,
before any sweep breached it) ends breached and put right at once: it was
missed, whoever got there first (`bulk.end_clocks`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from dealgate import timesource
from dealgate.accounts.models import Team, User
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.deals.models import Activity, Deal
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Handoff, Layout, Pipeline, Stage

from . import bulk
from .models import Clock

log = logging.getLogger("dealgate.clocks")

RUNNING = Clock.State.RUNNING
# Activities that answer a buyer: they meet a deal's response window.
RESPONSE_KINDS = (Activity.Kind.CALL, Activity.Kind.EMAIL, Activity.Kind.MEETING)
# Lead fields whose change can start, stop or restart the response window.
LEAD_FIELDS = frozenset(
    {"status", "owner", "assigned_at", "response_due_at", "first_response_at"}
)
ACTIVITY_FIELDS = frozenset({"kind", "due_at", "done", "at", "deal"})
# The clocks that belong to a deal's stage rather than to the deal.
STAGE_KINDS = (Clock.Kind.AGE, Clock.Kind.RESPONSE)


def deal_key(deal_id: int, kind: str) -> str:
    return f"deal:{deal_id}:{kind}"


# A lead's response clock; {} is the lead's id (a `bulk.insert_linked` template).
LEAD_KEY = "lead:{}:response"


def lead_key(lead_id: int) -> str:
    return LEAD_KEY.format(lead_id)


def next_step_key(activity_id: int) -> str:
    return f"activity:{activity_id}:next_step"


# --- starting and stopping -----------------------------------------------------


def start_clock(
    *,
    kind: str,
    key: str,
    pipeline: Pipeline,
    started_at: dt.datetime,
    due_at: dt.datetime,
    window_minutes: float,
    responsible_id: int | None,
    deal: Deal | None = None,
    lead: Lead | None = None,
    stage: Stage | None = None,
    handoff_id: int | None = None,
    activity: Activity | None = None,
    none_running: bool = False,
) -> Clock:
    """Start the clock named `key`, unless the same one already runs.

    An open clock with this key but another start, due time or person is
    ended ("restarted") and replaced: a running one is cancelled, a breached
    one put right (a next step moved to a later date after it ran out). A
    racing start of the same key (one open clock per key) gives the other's
    clock; the INSERT skips on that conflict instead of failing, so no
    savepoint is needed. `none_running` says the caller has just stopped
    this key's clock in its transaction, holding the row of its deal, or that
    the subject was created in it, so there is nothing to read first.
    """
    current = None
    if not none_running:
        current = Clock.objects.filter(key=key, is_open=True).first()
    if current is not None:
        # A breached clock with the same times is the same obligation still
        # owed: starting it again must not run it (and breach it) twice.
        same = (
            current.started_at == started_at
            and current.due_at == due_at
            and current.responsible_id == responsible_id
        )
        if same:
            return current
        _end(
            Clock.objects.filter(pk=current.pk),
            Clock.State.CANCELLED,
            timesource.now(),
            "restarted",
        )
    clock = Clock(
        kind=kind,
        key=key,
        pipeline=pipeline,
        late_after=late_after(pipeline, due_at),
        deal=deal,
        lead=lead,
        stage=stage,
        handoff_id=handoff_id,
        activity=activity,
        responsible_id=responsible_id,
        started_at=started_at,
        due_at=due_at,
        window_minutes=window_minutes,
    )
    if not bulk.insert_unless_taken(clock):
        return Clock.objects.get(key=key, is_open=True)
    log.debug("clock %s started: %s, due %s", clock.pk, key, due_at.isoformat())
    return clock


def late_after(pipeline: Pipeline, due_at: dt.datetime) -> dt.datetime:
    """`Clock.late_after` of a clock of `pipeline` due at `due_at`: the first
    working instant at or after `due_at`, the last at which a stop is on
    time."""
    return business_time.next_opening(calendar_for(pipeline), due_at)


def _end(clocks: QuerySet[Clock], state: str, at: dt.datetime, note: str) -> int:
    """Stop the running clocks among `clocks` and put right the breached ones
    (which also ends their second window: nothing escalates any more), in one
    UPDATE. Returns how many clocks it changed."""
    return bulk.end_clocks(clocks, state, at, note)


# --- deals ----------------------------------------------------------------------


def deal_reassigned(deal_id: int, before: int | None, after: int | None) -> None:
    """A deal's person changed without a move (its owner was changed): its
    open clocks that were that person's (`before`, the deal's responsible
    person or else its owner) become `after`'s, who is told of them from now
    on. Open means running, or run out and not put right: an age limit
    already passed is still the new owner's to act on, on their Today list
    and in their manager's escalations. A clock of a handoff's own named
    person stays theirs."""
    if before == after:
        return
    Clock.objects.filter(deal_id=deal_id, is_open=True, responsible_id=before).update(
        responsible_id=after
    )


def person_replaced(before: int, after: int, **subject: int) -> int:
    """The open clocks of person `before` (running, or run out and not put
    right) become `after`'s, keeping their start and due times: the work of
    a person who leaves, handed over (dealgate.accounts.handover), so the
    sweep tells and escalates about `after` from now on. `subject` narrows
    them to one deal or lead (`lead_id=5`). Returns how many moved."""
    mine = Clock.objects.filter(responsible_id=before, is_open=True, **subject)
    return mine.update(responsible_id=after)


def deal_moved(
    deal: Deal,
    from_stage: Stage,
    from_status: str,
    at: dt.datetime,
    *,
    layout: Layout | None = None,
) -> None:
    """Clocks after a move of `deal` (already saved in its new state).

    Leaving an open stage stops its age clock and response window (met when
    the deal went forward or was won, cancelled when it went back or was
    lost, and breached whichever way it went when the move came after the
    clock's due time: `bulk.end_clocks` decides that for every stop);
    closing stops every clock of the deal, next steps included.
    Entering an open stage starts its clocks. Must run in the move's
    transaction, with the deal row locked. `layout` is the pipeline's, read in
    that transaction; without it the handoff is read from the database.
    """
    if from_status == Deal.Status.OPEN:
        state, note = stage_left(from_stage.position, deal.status, deal.stage.position)
        left = Q(deal=deal)
        if deal.status == Deal.Status.OPEN:
            # Next steps belong to the deal, not to the stage: they keep running.
            left &= Q(kind__in=STAGE_KINDS)
        _end(Clock.objects.filter(left), state, at, note)
    if deal.status == Deal.Status.OPEN:
        came_from = from_stage if from_status == Deal.Status.OPEN else None
        _start_stage_clocks(
            deal,
            came_from,
            at,
            handoff=from_status == Deal.Status.OPEN,
            layout=layout,
            # Leaving the open stage stopped them just above.
            none_running=from_status == Deal.Status.OPEN,
        )
        if from_status != Deal.Status.OPEN:
            # Reopened: its open tasks are next steps again (closing ended them).
            tasks = Activity.objects.filter(
                deal=deal, kind=Activity.Kind.TASK, done=False, due_at__isnull=False
            )
            for task in tasks:
                _task_saved(task)


def stage_left(
    from_position: int, status: str, position: int | None
) -> tuple[str, str]:
    """How a deal leaving an open stage at `from_position` for `status` (and,
    open, the stage at `position`) ends the clocks it stops, and why: met
    when it went forward or was won, cancelled when it went back or was
    lost. The one place this is decided: the move's hook and the sweep that
    finds the move behind its back (dealgate.clocks.sweep) both ask it."""
    forward = status == Deal.Status.WON or (
        status == Deal.Status.OPEN and position is not None and position > from_position
    )
    note = "left the stage" if status == Deal.Status.OPEN else f"deal {status}"
    return (Clock.State.MET if forward else Clock.State.CANCELLED), note


def stays_ended(deals: QuerySet[Deal], at: dt.datetime, note: str) -> int:
    """End the stage clocks (age limit, response window) of `deals`, open
    deals taken out of their stage without the move's hooks: a pipeline's
    --move. Cancelled, since the buyer did nothing; next steps run on.
    `start_missing_clocks` then starts the new stays' age clocks. One UPDATE
    for any number of deals; returns how many clocks it ended."""
    clocks = Clock.objects.filter(deal__in=deals.values("pk"), kind__in=STAGE_KINDS)
    return _end(clocks, Clock.State.CANCELLED, at, note)


def age_limits_changed(
    pipeline: Pipeline, stages: Iterable[Stage], at: dt.datetime
) -> int:
    """Put the open age clocks of `stages` of `pipeline`, whose age limit was
    just changed, under the new limit, in the pipeline's calendar as stored
    now; returns how many clocks changed.

    Every open clock is re-dated from its stay's start by the new limit
    (`_redate`: running ones run to the new due time, breached ones keep
    their breach under it unless the new limit lifts it). A stage left
    without a limit ends them: running ones cancelled, breached ones put
    right, since there is no limit left to be over. Open deals of a stage
    that gained a limit have no clock yet: `start_missing_clocks` starts
    them.
    """
    changed = 0
    calendar = calendar_for(pipeline)
    for stage in stages:
        clocks = Clock.objects.filter(stage=stage, kind=Clock.Kind.AGE, is_open=True)
        if not stage.age_limit_days:
            changed += _end(clocks, Clock.State.CANCELLED, at, "stage has no age limit")
            continue
        days = stage.age_limit_days

        def due_of(
            started: dt.datetime, _window: float, days: int = days
        ) -> dt.datetime:
            return business_time.add_business_days(calendar, started, days)

        changed += _redate(
            clocks,
            calendar,
            due_of,
            days * calendar.day_minutes,
            at,
            "age limit raised",
        )
    if changed:
        log.info("age limits changed: %d open age clocks put under them", changed)
    return changed


# The columns of a clock that a lifted breach runs again, as `_redate`
# reads them from the breached one and then writes the new one.
_RERUN_FIELDS = (
    "kind",
    "key",
    "pipeline_id",
    "deal_id",
    "stage_id",
    "handoff_id",
    "responsible_id",
    "started_at",
    "state",
    "window_minutes",
    "due_at",
    "late_after",
    "at_risk",
    "actions",
    "note",
)


def _redate(
    clocks: QuerySet[Clock],
    calendar: Calendar,
    due_of: Callable[[dt.datetime, float], dt.datetime],
    minutes: float | None,
    at: dt.datetime,
    lifted_note: str,
) -> int:
    """Put the open clocks among `clocks` (deals' age clocks or response
    windows) under a changed rule: the one place a pipeline change (a new
    age limit, response window or calendar) re-dates clocks. Each gets the
    window `minutes` (None: its own, for a new calendar) and the due time
    `due_of(started_at, window)` (late after the first working instant at
    or after it, in `calendar`).

    - A running clock runs on to the new due time (the next sweep breaches
      it if that is already past).
    - A breached clock that is late under its new due time at `at` stays
      breached,
      at risk, with what the sweep did and its second window as they were,
      under the new window and due time: Today, the deal page and the board
      then count the same time over the new rule, and nobody is told or
      escalated to again for the same stay.
    - A breached clock whose new due time is still to come (the rule now
      allows more) is put right (`lifted_note`), and the stay runs a new
      clock to that due time, which breaches and tells again only if it runs
      out again.

    Returns how many clocks changed."""
    open_rows = clocks.filter(is_open=True).values_list(
        "pk", "state", "window_minutes", *_RERUN_FIELDS[:8]
    )
    running, breached, lifted, reruns = [], [], [], []
    for pk, state, own, *fields in open_rows:
        window = own if minutes is None else minutes
        due = due_of(fields[-1], window)
        late = business_time.next_opening(calendar, due)
        if state == RUNNING:
            running.append((pk, due, late, window))
        elif late < at:
            breached.append((pk, due, late, window))
        else:
            lifted.append(pk)
            reruns.append((*fields, RUNNING, window, due, late, False, "", ""))
    changed = 0
    for rows, state in ((running, RUNNING), (breached, Clock.State.BREACHED)):
        changed += bulk.update_each(
            Clock,
            ["due_at", "late_after", "window_minutes"],
            rows,
            also={},
            only_if=("state", state),
        )
    if lifted:
        ended = Clock.objects.filter(pk__in=lifted)
        _end(ended, Clock.State.CANCELLED, at, lifted_note)
        bulk.insert_rows(Clock, _RERUN_FIELDS, reruns)
        changed += len(reruns)
    return changed


def response_windows_changed(
    pipeline: Pipeline, windows: Mapping[int, float | None], at: dt.datetime
) -> int:
    """Put the open response clocks of deals at `pipeline`'s handoffs under
    their new windows (`windows`: handoff id -> minutes, None for a handoff
    left without a window or about to be deleted): re-dated from each
    clock's start (`_redate`), or ended (running ones cancelled, breached
    ones put right: there is no window left to be late for). Returns how
    many clocks changed.

    A lead's window keeps the due time it was given when the lead was
    assigned, which the lead itself shows (`Lead.response_due_at`)."""
    changed = 0
    calendar = None
    for handoff_id, minutes in windows.items():
        clocks = Clock.objects.filter(
            pipeline=pipeline,
            handoff_id=handoff_id,
            kind=Clock.Kind.RESPONSE,
            deal__isnull=False,
            is_open=True,
        )
        if minutes is None:
            note = "the handoff has no response window"
            changed += _end(clocks, Clock.State.CANCELLED, at, note)
            continue
        calendar = calendar or calendar_for(pipeline)
        changed += _redate(
            clocks,
            calendar,
            _window_due(calendar),
            minutes,
            at,
            "response window lengthened",
        )
    if changed:
        log.info("response windows changed: %d open clocks put under them", changed)
    return changed


def _window_due(calendar: Calendar) -> Callable[[dt.datetime, float], dt.datetime]:
    def due_of(started: dt.datetime, window: float) -> dt.datetime:
        return business_time.add(calendar, started, window)

    return due_of


def calendar_changed(pipeline: Pipeline, at: dt.datetime) -> int:
    """Re-date the open clocks of `pipeline` whose due time its calendar
    decides, after the calendar changed: age clocks by their stage's limit
    (a business day may be longer or shorter now), deals' response windows
    by their own length, breached ones as `_redate` says. Next steps keep
    the date a person chose, and a lead's window the due time the lead
    shows, but are late after the new calendar's next opening
    (`_late_after_changed`). Returns how many clocks changed."""
    stages = Stage.objects.filter(pipeline=pipeline)
    changed = age_limits_changed(pipeline, stages, at)
    calendar = calendar_for(pipeline)
    windows = Clock.objects.filter(
        pipeline=pipeline, kind=Clock.Kind.RESPONSE, is_open=True, deal__isnull=False
    )
    redated = _redate(
        windows, calendar, _window_due(calendar), None, at, "calendar changed"
    )
    if redated:
        log.info("calendar changed: %d response windows re-dated", redated)
    return changed + redated + _late_after_changed(pipeline, calendar)


def _late_after_changed(pipeline: Pipeline, calendar: Calendar) -> int:
    """Give the open clocks of `pipeline` that keep their due time under a
    new calendar (next steps, leads' windows) the late-after instant of that
    calendar, and pending second windows theirs: a due time that falls in
    hours the new calendar works is late sooner. Returns how many changed."""
    kept = Clock.objects.filter(pipeline=pipeline, is_open=True).filter(
        Q(kind=Clock.Kind.NEXT_STEP) | Q(kind=Clock.Kind.RESPONSE, deal__isnull=True)
    )
    changed = 0
    rows = kept.filter(state=RUNNING).values_list("pk", "due_at", "late_after")
    moved = [
        (pk, late)
        for pk, due, was in rows
        if (late := business_time.next_opening(calendar, due)) != was
    ]
    changed += bulk.update_each(
        Clock, ["late_after"], moved, also={}, only_if=("state", RUNNING)
    )
    pending = Clock.objects.filter(
        pipeline=pipeline,
        state=Clock.State.BREACHED,
        escalate_at__isnull=False,
        escalated_at=None,
        resolved_at=None,
    ).values_list("pk", "escalate_at")
    moved = [
        (pk, late)
        for pk, at in pending
        if (late := business_time.next_opening(calendar, at)) != at
    ]
    changed += bulk.update_each(
        Clock,
        ["escalate_at"],
        moved,
        also={},
        only_if=("state", Clock.State.BREACHED),
    )
    return changed


def deal_created(deal: Deal) -> None:
    """Clocks of a new open deal: its stage's age limit and, unless it came from
    a lead (whose own window already ran), the handoff from a new lead into its
    stage. Deals without a stage entry time get no age clock."""
    if deal.status != Deal.Status.OPEN:
        return
    at = deal.stage_entered_at or timesource.now()
    _start_stage_clocks(deal, None, at, handoff=deal.source != "lead")


def _start_stage_clocks(
    deal: Deal,
    from_stage: Stage | None,
    at: dt.datetime,
    *,
    handoff: bool,
    layout: Layout | None = None,
    none_running: bool = False,
) -> None:
    stage = deal.stage
    calendar = calendar_for(deal.pipeline)
    if stage.age_limit_days and deal.stage_entered_at is not None:
        start = deal.stage_entered_at
        start_clock(
            kind=Clock.Kind.AGE,
            key=deal_key(deal.pk, Clock.Kind.AGE),
            pipeline=deal.pipeline,
            deal=deal,
            stage=stage,
            responsible_id=deal.responsible_id or deal.owner_id,
            started_at=start,
            due_at=business_time.add_business_days(
                calendar, start, stage.age_limit_days
            ),
            window_minutes=stage.age_limit_days * calendar.day_minutes,
            none_running=none_running,
        )
    if not handoff:
        return
    if layout is not None:
        passage = layout.window(from_stage.pk if from_stage else None, stage.pk)
    else:
        passage = (
            Handoff.objects.filter(
                pipeline=deal.pipeline_id, from_stage=from_stage, to_stage=stage
            )
            .exclude(response_window_minutes=None)
            .first()
        )
    if passage is None:
        return
    minutes = passage.response_window_minutes
    start_clock(
        kind=Clock.Kind.RESPONSE,
        key=deal_key(deal.pk, Clock.Kind.RESPONSE),
        pipeline=deal.pipeline,
        deal=deal,
        stage=stage,
        handoff_id=passage.pk,
        responsible_id=handoff_responsible_id(passage, deal),
        started_at=at,
        due_at=business_time.add(calendar, at, minutes),
        window_minutes=minutes,
        none_running=none_running,
    )


def handoff_responsible_id(handoff: Handoff, deal: Deal) -> int | None:
    """The id of who must act on a handoff, from its `responsible` text.

    "stage-owner" is the person the deal's new stage routed it to;
    "deal-owner" its owner; "user:NAME" that person; "team:NAME" the deal's
    responsible person if they are in that team, else the team's manager.
    Only "user:" and "team:" cost queries.
    """
    text = handoff.responsible or "stage-owner"
    kind, _, name = text.partition(":")
    current = deal.responsible_id or deal.owner_id
    if text == "deal-owner":
        return deal.owner_id or deal.responsible_id
    if kind == "user":
        people = User.objects.filter(username=name, is_active=True)
        return people.values_list("pk", flat=True).first() or current
    if kind == "team":
        if User.objects.filter(pk=current, team__name=name).exists():
            return current
        team = Team.objects.filter(name=name)
        manager_id = team.values_list("manager_id", flat=True).first()
        if manager_id is not None:
            return manager_id
    return current


# --- activities -------------------------------------------------------------------


def activity_saved(activity: Activity) -> None:
    """Clocks after a deal activity was saved.

    A task with a due date and not done runs a next-step clock (moved when
    the due date moves); a done task meets it. A done call, email or meeting
    answers the buyer: it meets the deal's response window started before it,
    and puts right one that was already breached.
    """
    if activity.kind == Activity.Kind.TASK:
        _task_saved(activity)
    elif activity.kind in RESPONSE_KINDS and activity.done:
        answered = Q(
            deal_id=activity.deal_id,
            kind=Clock.Kind.RESPONSE,
            started_at__lte=activity.at,
        )
        _end(
            Clock.objects.filter(answered),
            Clock.State.MET,
            activity.at,
            f"answered by {activity.kind} {activity.pk}",
        )


def lead_task_done(task_id: int, at: dt.datetime, why: str = "task done") -> None:
    """A follow-up task on a lead was done (or handed on, `why`) at `at`: its
    running clock is met, a breached one put right (as a deal task's,
    `_task_saved`)."""
    _end(Clock.objects.filter(lead_task_id=task_id), Clock.State.MET, at, why)


def _task_saved(task: Activity) -> None:
    key = next_step_key(task.pk)
    own = Q(activity_id=task.pk)
    if task.done:
        done_at = task.done_at or timesource.now()
        _end(Clock.objects.filter(own), Clock.State.MET, done_at, "task done")
        return
    deal = Deal.objects.select_related("pipeline").get(pk=task.deal_id)
    if task.due_at is None or deal.status != Deal.Status.OPEN:
        why = "no due date" if task.due_at is None else f"deal {deal.status}"
        _end(Clock.objects.filter(own), Clock.State.CANCELLED, timesource.now(), why)
        return
    start = min(task.at, task.due_at)
    calendar = calendar_for(deal.pipeline)
    start_clock(
        kind=Clock.Kind.NEXT_STEP,
        key=key,
        pipeline=deal.pipeline,
        deal=deal,
        activity=task,
        responsible_id=deal.responsible_id or deal.owner_id,
        started_at=start,
        due_at=task.due_at,
        window_minutes=business_time.between(calendar, start, task.due_at),
    )


# --- leads --------------------------------------------------------------------------


def lead_changed(lead: Lead, *, created: bool = False) -> None:
    """Clocks after a lead was saved: its response window follows the lead.

    An open, unanswered lead owes the inquirer an answer, and runs one
    window for it from when it was first placed (or, waiting for an owner,
    from its arrival) to its due time: its owner's, or while no rule could
    place it the intake's (`unplaced_responsible_id`). A new owner takes the
    window over as it stands, with its start, due time and state (a breach
    stays a breach): the inquirer has waited since, and a reassignment is
    the firm's own doing. The lead's `response_due_at` is kept at that due
    time. The first response meets the window at `first_response_at`;
    closing the lead unanswered cancels it (met when it was converted).
    Running follow-up tasks move to the lead's owner. Two statements when
    nothing changed; none to look for clocks of a lead `created` by this
    save, which cannot have any yet.
    """
    if created:
        clocks = []
    else:
        # The response window only: the lead's follow-up tasks run their own
        # clocks, which a task's completion ends, not an edit of the lead.
        clocks = list(
            Clock.objects.filter(lead=lead, key=lead_key(lead.pk)).filter(
                Q(state=RUNNING) | Q(state=Clock.State.BREACHED, resolved_at=None)
            )
        )
        # Open tasks follow the lead to its owner.
        Clock.objects.filter(
            lead=lead, kind=Clock.Kind.NEXT_STEP, state=RUNNING
        ).exclude(responsible_id=lead.owner_id).update(responsible_id=lead.owner_id)
    if response_owed(lead):
        _lead_owed(lead, clocks, created=created)
        return
    if not clocks:
        return
    mine = Clock.objects.filter(pk__in=[clock.pk for clock in clocks])
    state, note = window_ended(lead)
    at = lead.first_response_at if note == ANSWERED else timesource.now()
    _end(mine, state, at, note)


# Why a lead's window ended when its first response came.
ANSWERED = "answered"


def window_ended(lead: Lead) -> tuple[str, str]:
    """How a lead that owes no response any more ends its window, and why:
    met when it was answered or converted into a deal, cancelled when it was
    disqualified, merged or archived unanswered. The one place this is
    decided, for the lead's hook and for the sweep (dealgate.clocks.sweep)."""
    if lead.first_response_at is not None:
        return Clock.State.MET, ANSWERED
    if lead.status == Lead.Status.CONVERTED:
        return Clock.State.MET, "converted into a deal"
    return Clock.State.CANCELLED, f"lead {lead.status}"


def response_owed(lead: Lead) -> bool:
    """Whether `lead` runs a response window: open, unanswered, assigned or
    waiting for an owner, and not an imported record of a past inquiry."""
    if lead.historic or lead.first_response_at is not None:
        return False
    if lead.status == Lead.Status.NEW:
        return lead.owner_id is None
    return (
        lead.status == Lead.Status.ASSIGNED
        and lead.owner_id is not None
        and lead.assigned_at is not None
    )


def _lead_owed(lead: Lead, clocks: Iterable[Clock], *, created: bool) -> None:
    key = lead_key(lead.pk)
    person = _lead_person(lead)
    for clock in clocks:
        # One window per inquiry, open or breached: a new owner takes it over
        # as it stands, and an edit of a lead leaves it alone.
        if clock.key != key:
            continue
        if clock.responsible_id != person:
            moved: dict[str, Any] = {"responsible_id": person}
            if clock.state == Clock.State.BREACHED and lead.owner_id is not None:
                moved |= _taken_over(lead, clock)
            Clock.objects.filter(pk=clock.pk).update(**moved)
            log.info(
                "lead %s: its response window (clock %s, due %s) moves from "
                "user %s to user %s, keeping its due time",
                lead.pk,
                clock.pk,
                clock.due_at.isoformat(),
                clock.responsible_id,
                person,
            )
            if lead.owner_id is None:
                _warn_unplaced(lead, clock.due_at, person)
        _keep_due(lead, clock.due_at)
        return
    clock = start_clock(
        key=key, lead=lead, none_running=created, **_response_window(lead)
    )
    if lead.owner_id is None:
        _warn_unplaced(lead, clock.due_at, person)


# In a breached window's actions: a new owner took it over after it ran out
# and has not been told yet; the sweep tells them (dealgate.clocks.sweep).
TAKEN_OVER = "taken over"


def _taken_over(lead: Lead, clock: Clock) -> dict[str, Any]:
    """What a breached window becomes when a new owner takes it over (a lead
    placed after its window ran out, or given to someone else by hand): due
    to the sweep's escalation claim at once, marked `TAKEN_OVER`, so that
    the next sweep tells the owner of the breach, once, and gives them a
    second window of their own, whatever was said to whoever held it before
    (the admins of a lead waiting for an owner). A hand-over moves the clock
    before the lead is saved (`person_replaced`) and tells the successor
    itself; the sweep's own reassignment puts the clock back and tells the
    new owner itself (sweep._reassign_lead)."""
    actions = [a for a in clock.actions.split(",") if a and a != TAKEN_OVER]
    return {
        "actions": ",".join([*actions, TAKEN_OVER]),
        "escalate_at": lead.assigned_at or timesource.now(),
        "escalated_at": None,
    }


def _keep_due(lead: Lead, due: dt.datetime) -> None:
    """Show the window's due time on an assigned lead (a reassignment set a
    later one, which would promise the new owner time the inquirer has not
    given)."""
    if lead.owner_id is None or lead.response_due_at == due:
        return
    lead.response_due_at = due
    Lead.objects.filter(pk=lead.pk).update(response_due_at=due)


def _warn_unplaced(lead: Lead, due: dt.datetime, person: int | None) -> None:
    """Say, once the lead is stored, that no rule could place it and who
    (`person`, None for the admins) must act by when: a lead waiting for an
    owner is an obligation someone must see."""
    who = "the admins"
    if person is not None:
        who = User.objects.filter(pk=person).values_list("username", flat=True)[0]
    transaction.on_commit(
        lambda: log.warning(
            "lead %s could not be placed (%s): its response window, due %s, "
            "falls to %s until it has an owner",
            lead.pk,
            lead.routing_reason or "no owner",
            due.isoformat(),
            who,
        )
    )


def response_clock(lead: Lead) -> Clock:
    """The response clock of a lead being created, unsaved, without its lead
    and key: for a capture that writes the lead, this clock and the
    assignment in one statement (`bulk.insert_linked`, linking `lead_id` and
    `key` by LEAD_KEY), where saving the lead would start it through
    `lead_changed`. A lead no rule could place gets one too, for the intake
    (`unplaced_responsible_id`), and a WARNING naming it once it is stored."""
    window = _response_window(lead)
    clock = Clock(**window, late_after=late_after(lead.pipeline, window["due_at"]))
    if lead.owner_id is None:
        _warn_unplaced(lead, clock.due_at, clock.responsible_id)
    return clock


def _response_window(lead: Lead) -> dict[str, Any]:
    """The fields of a lead's response clock but its key and lead: from its
    assignment, or its arrival while it waits for an owner."""
    pipeline = lead.pipeline
    start = lead.assigned_at or lead.created_at
    due = lead.response_due_at or assign.due_at(pipeline, start)
    return {
        "kind": Clock.Kind.RESPONSE,
        "pipeline": pipeline,
        "handoff_id": assign.intake_handoff_id(pipeline),
        "responsible_id": _lead_person(lead),
        "started_at": start,
        "due_at": due,
        "window_minutes": assign.intake_window(pipeline),
    }


def _lead_person(lead: Lead) -> int | None:
    if lead.owner_id is not None:
        return lead.owner_id
    return unplaced_responsible_id(lead.pipeline)


def unplaced_responsible_id(pipeline: Pipeline) -> int | None:
    """Who must act on a lead no routing rule could place: the active person
    who owns the pipeline's intake stage (the stage its handoff from a lead
    enters, else its first), else None, meaning the firm's active admins,
    whom the sweep tells and whose Today lists it. Two queries at most."""
    stages = Stage.objects.filter(pipeline=pipeline, retired_at__isnull=True)
    handoff_id = assign.intake_handoff_id(pipeline)
    if handoff_id is not None:
        entered = Handoff.objects.filter(pk=handoff_id).values("to_stage_id")
        stages = stages.filter(pk__in=entered)
    intake = stages.order_by("position").values_list(
        "owner_kind", "owner_user_id", "owner_user__is_active"
    )
    kind, person, active = intake.first() or ("", None, False)
    return person if kind == Stage.OwnerKind.PERSON and active else None


# --- people ---------------------------------------------------------------------------


def manager_of(user: User | None) -> User | None:
    """A person's manager: their team's manager, unless that is themselves or
    someone who may no longer sign in (the sweep's rule for escalations, which
    then go to the admins)."""
    if user is None or user.team_id is None:
        return None
    team = user.team
    if team.manager_id is None or team.manager_id == user.pk:
        return None
    manager = team.manager
    return manager if manager is not None and manager.is_active else None


# --- backfill ----------------------------------------------------------------


@dataclass(frozen=True)
class Backfill:
    """Age clocks that bulk imports left unstarted: how many, and how many of
    those are already past their limit (the next sweep flags them); and how
    many open deals in a stage with a limit can have none, since when they
    entered it is unknown (imported without a stage entry time)."""

    missing: int
    overdue: int
    started: int
    unknown_entry: int = 0


# The columns an age clock is written with, set-based.
AGE_CLOCK_FIELDS = (
    "kind",
    "state",
    "key",
    "pipeline_id",
    "deal_id",
    "stage_id",
    "responsible_id",
    "window_minutes",
    "started_at",
    "due_at",
    "late_after",
    "at_risk",
    "actions",
    "note",
)


def start_missing_clocks(
    *,
    apply: bool,
    now: dt.datetime | None = None,
    pipeline_id: int | None = None,
) -> Backfill:
    """Start the age clock of every open deal whose stage has a limit and that
    has no clock for its current stay (imports write deals without signals,
    a pipeline's --move moves them without their hooks); only the deals of
    `pipeline_id` when it is given.

    A dry run (`apply=False`) only counts. Set-based: one query for the deals,
    one multi-row INSERT per thousand clocks; idempotent, since a deal with a
    clock for this stay is skipped.
    """
    now = now or timesource.now()
    in_pipeline = {"pipeline_id": pipeline_id} if pipeline_id is not None else {}
    unknown_entry = Deal.objects.filter(
        status=Deal.Status.OPEN,
        stage__age_limit_days__gt=0,
        stage_entered_at__isnull=True,
        **in_pipeline,
    ).count()
    # A running age clock, or any for this very stay (it may have run out).
    has_clock = Clock.objects.filter(deal=OuterRef("pk"), kind=Clock.Kind.AGE).filter(
        Q(state=RUNNING)
        | Q(stage=OuterRef("stage"), started_at=OuterRef("stage_entered_at"))
    )
    deals = (
        Deal.objects.filter(
            status=Deal.Status.OPEN,
            stage__age_limit_days__gt=0,
            stage_entered_at__isnull=False,
        )
        .exclude(Exists(has_clock))
        .filter(**in_pipeline)
        .values_list(
            "pk",
            "pipeline_id",
            "stage_id",
            "stage__age_limit_days",
            "stage_entered_at",
            "responsible_id",
            "owner_id",
        )
    )
    pipelines = {}
    rows = []
    overdue = 0
    for pk, pipeline_id, stage_id, days, entered, responsible, owner in deals:
        if pipeline_id not in pipelines:
            pipelines[pipeline_id] = calendar_for(Pipeline.objects.get(pk=pipeline_id))
        calendar = pipelines[pipeline_id]
        due = business_time.add_business_days(calendar, entered, days)
        late = business_time.next_opening(calendar, due)
        overdue += late < now
        rows.append(
            (
                Clock.Kind.AGE,
                RUNNING,
                deal_key(pk, Clock.Kind.AGE),
                pipeline_id,
                pk,
                stage_id,
                responsible or owner,
                days * calendar.day_minutes,
                entered,
                due,
                late,
                False,
                "",
                "",
            )
        )
    started = 0
    if apply and rows:
        ids = [row[4] for row in rows]
        with transaction.atomic():
            # A deal moved without its hooks (a pipeline's --move, an edit of
            # its stage) may keep a breached age clock of its earlier stay:
            # that stay is over, so it is put right before the new one opens.
            for start in range(0, len(ids), 1_000):
                earlier = Q(deal_id__in=ids[start : start + 1_000], kind=Clock.Kind.AGE)
                _end(Clock.objects.filter(earlier), Clock.State.CANCELLED, now, "")
            bulk.insert_rows(Clock, AGE_CLOCK_FIELDS, rows)
        started = len(rows)
        log.info(
            "backfill: %d age clocks started, %d already overdue", started, overdue
        )
    return Backfill(
        missing=len(rows),
        overdue=overdue,
        started=started,
        unknown_entry=unknown_entry,
    )
