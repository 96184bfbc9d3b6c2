"""The sweeper: act exactly once on every clock that has run out.

A sweep works in batches, each one transaction. First the breaches: a batch

1. claims up to `batch_size` running clocks due by now, oldest first
   (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so parallel sweepers
   take different clocks; on SQLite the IMMEDIATE transaction mode makes
   sweepers take turns);
2. locks their deals and leads, skipping those another transaction holds,
   and leaves those clocks as they are, for the next sweep (see below);
3. checks each against its deal or lead, since a hook may have been missed:
   a clock whose deal left the stage, closed, or was answered is stopped
   (met or cancelled) instead of breached, at the time that happened where
   the history records it; one that ended after its due time was missed,
   and is breached and put right then, with nothing sent (`_plan_stop`);
4. marks the rest breached (`UPDATE ... WHERE state = 'running'`: every row,
   or the batch is undone) and writes what the breach rules ask for in the
   same transaction: notices with their outbox rows, follow-up tasks, and
   the second window (`escalate_at`).

Then the escalations, the same way: breached clocks whose second window has
passed and that nobody put right get their manager told (the firm's
admins when there is no manager) or their work reassigned, and
`escalated_at` set.

Lock order. Every writer of a deal or lead (a move, an edit, an answer, a
hand-over of the person's work) locks its row first and then writes its
clocks; a change of a pipeline (its file applied) locks the pipeline first
and then re-dates its clocks. The sweep cannot: it finds its work by
claiming clocks. But what it writes about a deal or lead locks that row as
well: a notice, a follow-up task or a next-step clock refers to it (the
foreign key's check takes FOR KEY SHARE), a next-step clock to its
pipeline too, and a reassignment updates the deal or lead. Waiting for such
a row while holding the clock, against a writer holding the row and
waiting for the clock, is a deadlock, which PostgreSQL breaks by failing
one of the two (the owner's answer, say). So right after its claim the
batch locks the clocks' deals and leads FOR UPDATE SKIP LOCKED, and their
pipelines FOR KEY SHARE SKIP LOCKED, the lock a reference needs
(`_Batch._hold_subjects`), and acts only on the clocks whose rows it got:
one whose row a writer holds is left as it is, not claimed again by this
sweep, and judged by the next, after the change (which may have answered,
moved or closed it). Holding those, the sweep then waits only for rows no
such writer holds while waiting for its clocks: other clocks of a deal it
reassigns (another sweeper that claimed one of them skips the deal, and
finishes without waiting for this one), notices and deliveries, users, and
the routing state, which a lead's change also locks after the lead.

The clocks the demo started are judged at the date its database records,
whatever the sweep's own time: see `_demo_hold`.

A crash before a commit leaves that batch as it was, to be done again; after
the commit its clocks no longer match the claim, so nothing is done twice.
Cost grows with the due clocks only: each claim walks a partial index by due
time, and every write is set-based (see dealgate.clocks.bulk).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.text import agreeing, counted, cut
from dealgate.deals import services as deal_services
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.demo.loader import PIPELINE_KEY as DEMO_PIPELINE
from dealgate.errors import DealgateError
from dealgate.leads import assign
from dealgate.leads.models import Lead, LeadActivity, LeadAssignment
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Handoff, Pipeline, Stage

from . import bulk, rules
from .models import DIGEST_LINES, AsOf, Clock, Delivery, Notice, Reassignment
from .notices import notice_time, queue_deliveries, subject_url, today_url
from .services import (
    ANSWERED,
    RESPONSE_KINDS,
    STAGE_KINDS,
    TAKEN_OVER,
    next_step_key,
    response_owed,
    stage_left,
    unplaced_responsible_id,
    window_ended,
)
from .timeleft import format_span

log = logging.getLogger("dealgate.clocks")

BATCH_SIZE = 1_000
# A warning names at most this many deals or leads, then counts the rest.
NAMED = 10
# What a kind of clock stands for, in an escalation's words.
MISSED = {
    Clock.Kind.AGE: "the stage's age limit",
    Clock.Kind.RESPONSE: "a response window",
    Clock.Kind.NEXT_STEP: "a next step",
}
# A digest's entry shows at most this much of a deal's or lead's name, so
# the words after it (whose it is, what ran out) are never cut off.
LINE_LABEL = 120
RUNNING = Clock.State.RUNNING
BREACHED = Clock.State.BREACHED
MET = Clock.State.MET
CANCELLED = Clock.State.CANCELLED
OWED = "owed"
# The clock's note and the summary's words for an escalation nobody can get.
NOBODY_TO_TELL = "not escalated: nobody to tell"
# Why an escalation goes to the admins, as the clock's note gives it, and
# what their notice adds.
NO_MANAGER = "no manager"
MANAGER_INACTIVE = "manager inactive"
MANAGER_AWAY = "manager away"
NO_OWNER = "no owner"
ADMIN_BECAUSE = {
    NO_MANAGER: "You are told as an admin: {person} has no manager.",
    MANAGER_INACTIVE: (
        "You are told as an admin: {person}'s manager may no longer sign in."
    ),
    NO_OWNER: "You are told as an admin: it has no owner.",
    MANAGER_AWAY: "You are told as an admin: {person}'s manager {away}.",
}
# Why a breach with nobody to tell went to whom it did (`_told_instead`):
# what its notice adds, and the sweep's log line says.
INTAKE_OWNER = "intake owner"
NO_INTAKE_OWNER = "no intake owner"
INSTEAD_SAID = {
    INTAKE_OWNER: (
        "You are told because nobody who may sign in is responsible for it, "
        "and you own its pipeline's intake stage."
    ),
    NO_INTAKE_OWNER: (
        "You are told as an admin: nobody who may sign in is responsible for "
        "it, and its pipeline's intake stage has no owner."
    ),
}
INSTEAD_LOGGED = {
    INTAKE_OWNER: "instead: nobody responsible; the intake stage's owner",
    NO_INTAKE_OWNER: "instead: nobody responsible; admins, the intake stage "
    "has no owner",
}
FOLLOW_UP_TAG = "follow-up"
# Added to a clock's actions when the sweep reassigned its obligation: it is
# not reassigned again, its next escalation goes to the manager.
REASSIGNED = "reassigned"
# The two sides of a reassignment, as its digest groups and counts them: the
# deals and leads a person gained, then those taken from them.
GAINED, LOST = "gained", "lost"
NOW_YOURS = "Now yours"

_CLAIMED = (
    "id",
    "kind",
    "pipeline_id",
    "deal_id",
    "lead_id",
    "stage_id",
    "handoff_id",
    "activity_id",
    "lead_task_id",
    "responsible_id",
    "window_minutes",
    "started_at",
    "due_at",
    "late_after",
    "escalate_at",
    "actions",
)
_INSTANTS = ("started_at", "due_at", "late_after", "escalate_at")
_NOTICE_FIELDS = (
    "id",
    "user_id",
    "kind",
    "title",
    "body",
    "url",
    "deal_id",
    "lead_id",
    "clock_id",
    "created_at",
    "items",
    "more_items",
)
_STEP_FIELDS = (
    "kind",
    "state",
    "key",
    "pipeline_id",
    "deal_id",
    "activity_id",
    "responsible_id",
    "window_minutes",
    "started_at",
    "due_at",
    "late_after",
    "at_risk",
    "actions",
    "note",
)
_LEAD_STEP_FIELDS = (
    "kind",
    "state",
    "key",
    "pipeline_id",
    "lead_id",
    "lead_task_id",
    "responsible_id",
    "window_minutes",
    "started_at",
    "due_at",
    "late_after",
    "at_risk",
    "actions",
    "note",
)


def lead_task_key(task_id: int) -> str:
    return f"lead-task:{task_id}:next_step"


class SweepConflict(Exception):
    """A claimed clock changed under the sweep; the batch is rolled back."""


@dataclass
class SweepResult:
    """What one sweep did, for the log line and the command's output.

    `due` counts each clock acted on once: those that came due (`breached`,
    `met`, `cancelled`) and those breached by an earlier sweep whose second
    window has passed (`earlier`). The rest count actions, not clocks: a
    clock breached and escalated by the same sweep is one clock with two
    actions."""

    due: int = 0
    breached: int = 0
    met: int = 0
    cancelled: int = 0
    earlier: int = 0
    # Of `breached`: clocks whose obligation the sweep found had ended after
    # they ran out, breached and put right at once, with nothing sent.
    over: int = 0
    # Clocks claimed but left as they were, their deal, lead or pipeline
    # being changed by another transaction; the next sweep judges them (not
    # in `due`).
    left: int = 0
    escalated: int = 0
    notices: int = 0
    tasks: int = 0
    reassigned: int = 0
    # Breached windows a new owner took over (a lead placed or given after
    # its window ran out), whose owner the sweep told: counted in `due`.
    taken_over: int = 0
    unaddressed: int = 0  # breaches to notify with nobody responsible
    not_escalated: int = 0  # no manager and no admin (other than the person)
    batches: int = 0
    seconds: float = 0.0
    # Clocks this sweep breached with their second window already passed:
    # its escalation claim finds them again, and they are counted once.
    breached_past_second_window: set[int] = field(default_factory=set, repr=False)
    # The first NAMED of each of the two above, as "deal 12 (clock 40)", for
    # the warnings that a person must look at them.
    unaddressed_on: list[str] = field(default_factory=list)
    not_escalated_on: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the clocks, each counted once, then the actions taken on
        them. Clocks with nobody to tell are named apart, and so are earlier
        breaches and clocks left to the next sweep, only when there are
        some."""
        nobody = untold = earlier = over = left = taken = ""
        if self.unaddressed:
            nobody = f" ({self.unaddressed:,} with nobody to notify)"
        if self.over:
            over = f" ({self.over:,} over already, nothing sent)"
        if self.not_escalated:
            untold = f" ({self.not_escalated:,} {NOBODY_TO_TELL})"
        if self.earlier:
            its = agreeing(self.earlier, "its", "their")
            earlier = f", {self.earlier:,} breached before and past {its} second window"
        if self.left:
            left = f", {self.left:,} left to the next sweep (being changed)"
        if self.taken_over:
            taken = f", {self.taken_over:,} breached before a new owner took it over"
        return (
            f"{counted(self.due, 'due clock')}: {self.breached:,} breached"
            f"{nobody}{over}, {self.met:,} met, {self.cancelled:,} cancelled{earlier}"
            f"{taken}{left}; "
            f"actions: {counted(self.escalated, 'escalation')}{untold}, "
            f"{counted(self.notices, 'notice')}, {counted(self.tasks, 'task')}, "
            f"{counted(self.reassigned, 'reassignment')}; "
            f"{counted(self.batches, 'batch')} in {self.seconds:.3f} s"
        )


def sweep(
    *, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE
) -> SweepResult:
    """Act once on every clock due at `now` (default: `timesource.now()`), then
    on every second window that has passed.

    Safe to run in several processes at once and to re-run after a crash (see
    the module docstring).
    """
    now = now or timesource.now()
    result = SweepResult()
    started = time.perf_counter()
    digests: dict[int, _Digest] = {}
    # Clocks whose deal, lead or pipeline was being changed: not claimed
    # again by this sweep, the next one judges them.
    left: set[int] = set()
    # Until a claim comes back empty: a batch may add tasks already due, and
    # a breach may already be past its second window (a sweeper was down).
    for claim in (_claim_due, _claim_escalations):
        while True:
            with transaction.atomic():
                # Read in the claim's transaction: a demo loaded meanwhile
                # records its date before it has clocks to claim.
                hold = _demo_hold(now)
                rows = claim(now, batch_size, hold, left)
                if not rows:
                    break
                escalating = claim is _claim_escalations
                batch = _Batch(rows, now, escalating, digests=digests)
                batch.run(result)
                left.update(batch.left)
            # Once committed: a batch undone did nothing to these clocks.
            batch.log_each()
            result.batches += 1
    result.seconds = time.perf_counter() - started
    # Every 30 s in `serve`: a sweep that found nothing due is not news.
    level = logging.INFO if result.batches else logging.DEBUG
    log.log(level, "sweep at %s: %s", now.isoformat(), result.summary())
    if result.unaddressed:
        log.warning(
            "sweep at %s: %d breached clocks had nobody to notify (no owner): %s",
            now.isoformat(),
            result.unaddressed,
            _named(result.unaddressed_on, result.unaddressed),
        )
    if result.not_escalated:
        log.warning(
            "sweep at %s: %d clocks %s (no manager and no other active admin): %s",
            now.isoformat(),
            result.not_escalated,
            NOBODY_TO_TELL,
            _named(result.not_escalated_on, result.not_escalated),
        )
    return result


def _named(subjects: list[str], count: int) -> str:
    """The deals and leads a warning names, at most NAMED, then how many more."""
    more = count - len(subjects)
    return ", ".join(subjects) + (f" and {more:,} more" if more > 0 else "")


@dataclass(frozen=True)
class _Hold:
    """The clocks the demo started (in its pipeline, by its date), which a
    sweep judges at that date `at` rather than at its own time."""

    pipeline_id: int
    at: dt.datetime

    def where(self, due: str, before: str = "<=") -> tuple[str, list[Any]]:
        """The claim's condition that leaves these clocks out unless their
        `due` column (a late-after instant) is reached by `at` as the claim
        compares it (`before`: "<" for `late_after`), with its parameters."""
        at = bulk.adapt(self.at)
        return (
            f" AND (pipeline_id <> %s OR started_at > %s OR {due} {before} %s)",
            [self.pipeline_id, at, at],
        )


# The hold a sweep in this process last logged: a sweeper loop says it once.
_hold_told: _Hold | None = None


def _demo_hold(now: dt.datetime) -> _Hold | None:
    """The clocks the demo started, to judge at the date the database
    records for it, if `now` is past that date.

    The demo's sample deals are as of that date: judged at a later one,
    above all at the real time, at which a database with a pipeline of its
    own beside the demo's runs (dealgate.timesource.recorded_as_of), every
    window of theirs ran out long ago, and one sweep would breach and
    escalate them all at once and mail the demo's logins about sample data.
    `dealgate demo --as-of DATE` moves the demo on, recording DATE. Clocks
    started after the date (a demo deal moved since) run as any other.
    Changes no clock. One query, two on a database the demo loaded.
    """
    recorded = AsOf.objects.values_list("value", flat=True).first()
    # A date alone ends in the zone of the demo's pipeline, as its pages read it.
    if not recorded or timesource.parse_as_of(recorded, "Etc/GMT+12") >= now:
        return None
    pipelines = {pipe.key: pipe for pipe in Pipeline.objects.only("key", "calendar")}
    demo = pipelines.pop(DEMO_PIPELINE, None)
    if demo is None:
        return None
    held = timesource.parse_as_of(recorded, calendar_for(demo).timezone)
    if held >= now:
        return None
    hold = _Hold(demo.pk, held)
    _log_hold(hold, now, recorded, sorted(pipelines))
    return hold


def _log_hold(hold: _Hold, now: dt.datetime, recorded: str, others: list[str]) -> None:
    global _hold_told
    if hold == _hold_told:
        return
    _hold_told = hold
    if others:
        why = f"this database also holds pipeline {', '.join(others)}"
        why += ", so it runs at the real time"
    else:
        why = "the sweep runs past it"
    log.info(
        "sweep at %s: the clocks the demo started in pipeline %s stay at its date "
        "%s, so its sample deals are not breached or escalated: %s "
        "(dealgate demo --as-of DATE moves the demo on)",
        now.isoformat(),
        DEMO_PIPELINE,
        recorded,
        why,
    )


def _claim_due(
    now: dt.datetime,
    limit: int,
    hold: _Hold | None = None,
    left: set[int] | frozenset[int] = frozenset(),
) -> list[dict[str, Any]]:
    # Late only once business time has passed beyond the due time: after
    # `late_after`, the first working instant at or after it (docs/clocks.md,
    # "Late"), never in the closed hours after a due time at closing. At
    # `late_after` itself a stop is on time (`bulk.end_clocks`), so a sweep
    # at that instant is not yet late either: strictly after.
    where = f"state = '{RUNNING}' AND late_after < %s"
    return _locked(where, now, "late_after", limit, hold, left)


def _claim_escalations(
    now: dt.datetime,
    limit: int,
    hold: _Hold | None = None,
    left: set[int] | frozenset[int] = frozenset(),
) -> list[dict[str, Any]]:
    return _locked(
        f"state = '{BREACHED}' AND escalate_at IS NOT NULL AND escalate_at <= %s"
        " AND escalated_at IS NULL AND resolved_at IS NULL",
        now,
        "escalate_at",
        limit,
        hold,
        left,
    )


def _locked(
    where: str,
    now: dt.datetime,
    order: str,
    limit: int,
    hold: _Hold | None = None,
    left: set[int] | frozenset[int] = frozenset(),
) -> list[dict[str, Any]]:
    """Up to `limit` clocks matching `where` (with `now` for its one
    placeholder), first by `order` and then by id (clocks due at one instant
    are taken, and named, in the order they were started), locked for this
    transaction; with `hold`, those it keeps back whose `order` column is
    past its date are left out, and so are the clocks `left` (an earlier
    batch of the sweep left them to the next sweep: `_Batch._hold_subjects`).

    Raw SQL: on SQLite the ORM's per-value converters cost more than the
    claim itself. The states are written as literals so that SQLite's planner
    can match the partial indexes clock_due and clock_escalation_due, whose
    conditions it compares with the query's at prepare time. The hold's
    condition is checked on the rows the index gives, so it walks past the
    demo's few open clocks on each claim."""
    quote = connection.ops.quote_name
    params = [bulk.adapt(now)]
    if hold is not None:
        held, held_params = hold.where(order, "<" if order == "late_after" else "<=")
        where += held
        params += held_params
    if left:
        # Only PostgreSQL leaves clocks (SKIP LOCKED), and takes one array.
        where += " AND NOT (id = ANY(%s::bigint[]))"
        params.append(bulk.pg_array(sorted(left)))
    sql = (
        f"SELECT {', '.join(map(quote, _CLAIMED))} "
        f"FROM {quote(Clock._meta.db_table)} WHERE {where} "
        f"ORDER BY {quote(order)}, {quote('id')} LIMIT %s"
    )
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    found, _ = bulk.run(sql, [*params, limit])
    rows = [dict(zip(_CLAIMED, values, strict=True)) for values in found]
    if connection.vendor != "postgresql":
        for row in rows:
            for name in _INSTANTS:
                row[name] = bulk.instant(row[name])
    return rows


@dataclass
class _Pipe:
    """What a batch needs of one pipeline: its breach rules and calendar."""

    rules: rules.BreachRules
    calendar: Calendar


@dataclass
class _Notice:
    user_id: int
    kind: str
    title: str
    # Made only for a notice sent alone: a digest lists `line`s instead.
    body: Callable[[], str]
    row: dict[str, Any]
    # The notice in one line, for a digest that gathers it with others.
    line: str
    # A reassignment's side for its person: GAINED or LOST ("" otherwise).
    side: str = ""


@dataclass
class _Digest:
    """What a sweep knows of a digest it wrote or added to, which the row
    does not keep: the subject of every entry, those only counted included
    (("deal", id) or ("lead", id)). `entries` is how many the row held
    then, kept and counted: if another sweeper has added to it since, what
    is known here is no longer the whole digest."""

    subjects: set[tuple[str, int, str]]
    entries: int


@dataclass(frozen=True)
class _Stop:
    """A claimed clock whose obligation the sweep found over: how it ended
    (`state`, met or cancelled), why (`note`) and when (`at`). `late` when
    it ended after the clock's due time: then it was missed, and the clock
    is written breached and put right at `at` instead of `state`."""

    clock_id: int
    state: str
    note: str
    at: dt.datetime
    late: bool


@dataclass
class _Batch:
    """One claimed batch: read what it needs, decide, write, all in the
    caller's transaction. `escalating` batches hold breached clocks whose
    second window has passed."""

    rows: list[dict[str, Any]]
    now: dt.datetime
    escalating: bool = False
    ended: list[_Stop] = field(default_factory=list)
    # (id, at_risk, actions, escalate_at) of each clock to breach
    breached: list[tuple[int, bool, str, dt.datetime | None]] = field(
        default_factory=list
    )
    escalated: dict[str, list[int]] = field(default_factory=dict)
    notices: list[_Notice] = field(default_factory=list)
    tasks: list[tuple[dict[str, Any], str, dt.datetime]] = field(default_factory=list)
    # (clock row, subject, due, for whom) of each follow-up task on a lead
    lead_tasks: list[tuple[dict[str, Any], str, dt.datetime, int | None]] = field(
        default_factory=list
    )
    # (clock row, whether the rule escalates as well)
    reassignments: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    # (id, new person, escalate_at, actions, note) of each clock reassigned
    # and given its new person's own second window (`_rewindow`)
    rewindowed: list[tuple[int, int, dt.datetime, str, str]] = field(
        default_factory=list
    )
    # (id, escalate_at, actions, note) of each breached window a new owner
    # took over, who is told now (`_plan_taken_over`)
    taken_over: list[tuple[int, dt.datetime | None, str, str]] = field(
        default_factory=list
    )
    # ids of the breaches to notify with nobody responsible (their notes say
    # so), and how many escalations had nobody to tell
    unaddressed: list[int] = field(default_factory=list)
    not_escalated: int = 0
    reassigned: int = 0
    written: int = 0  # notice rows, a digest one
    # active admins' ids, read when an escalation first needs them, and
    # their usernames (and those of the intake owners told instead)
    admins: list[int] | None = None
    admin_names: dict[int, str] = field(default_factory=dict)
    # each pipeline's active intake owner (or None), by pipeline id, read
    # when a breach with nobody to tell first needs it (`_told_instead`)
    intake_owners: dict[int, int | None] = field(default_factory=dict)
    # why each breach told instead was told to whom it was, by clock id
    instead: dict[int, str] = field(default_factory=dict)
    # What happened to each clock, logged at INFO once the batch is
    # committed: (format, arguments); empty unless INFO is logged.
    said: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    # "deal 12 (clock 40)" of the breaches nobody was told of, and of the
    # escalations nobody could get
    unaddressed_on: list[str] = field(default_factory=list)
    not_escalated_on: list[str] = field(default_factory=list)
    # The sweep's digests by notice id, shared by its batches.
    digests: dict[int, _Digest] = field(default_factory=dict)
    # ids of the claimed clocks whose deal, lead or pipeline another
    # transaction was changing: the batch does nothing to them (`_hold_subjects`).
    left: list[int] = field(default_factory=list)

    def run(self, result: SweepResult) -> None:
        self._hold_subjects()
        result.left += len(self.left)
        if not self.rows:
            return
        self._load()
        for row in self.rows:
            verdict, note, at = self._verdict(row)
            if verdict != OWED:
                self._plan_stop(row, verdict, note, at)
            elif self.escalating:
                self._plan_escalation(row)
            else:
                self._plan_breach(row)
        # First: whether a reassignment found someone decides the words and
        # notices the states and outbox rows below record.
        self._reassign()
        self._write_states()
        self._write_notices()
        self._write_tasks()
        self._add_to(result)

    # --- reading: one query per related table ----------------------------------

    def _hold_subjects(self) -> None:
        """Lock and read the deals and leads of the claimed clocks, skipping
        those another transaction holds, and leave those clocks out of the
        batch (`left`): as they are, for the next sweep to judge. Their
        pipelines too, held only against a change of the pipeline
        (`_shared`).

        Every other writer locks a deal or lead first and its clocks after
        (a move, an answer, an edit), and the sweep, holding the clocks it
        claimed, writes rows that lock their deal or lead too: a notice or
        task referring to it (its foreign key), a reassignment. Were it to
        wait for such a writer, the writer would wait for the clock: a
        deadlock. So it waits for none: FOR UPDATE SKIP LOCKED, the strongest
        lock, which its own writes then never wait beyond. A deal or lead
        being changed may be answered, moved or closed by that change, which
        the next sweep sees. SQLite's IMMEDIATE transaction holds everything
        already: nothing is left there."""

        def ids(name: str) -> set[int]:
            return {row[name] for row in self.rows if row[name] is not None}

        skip = connection.features.has_select_for_update_skip_locked
        pipelines = _shared(ids("pipeline_id")) if skip else ids("pipeline_id")
        self.deals = _deals(ids("deal_id"), lock=skip)
        leads = Lead.objects.filter(pk__in=ids("lead_id"))
        if skip:
            leads = leads.select_for_update(skip_locked=True, of=("self",))
        self.leads = {
            lead.pk: lead
            for lead in leads.only(
                "id",
                "name",
                "company",
                "email",
                "phone",
                "status",
                "owner_id",
                "assigned_at",
                "first_response_at",
                "closed_at",
                "historic",
            )
        }
        kept = []
        for row in self.rows:
            if row["pipeline_id"] not in pipelines:
                busy = True
            elif row["deal_id"] is not None:
                busy = row["deal_id"] not in self.deals
            else:
                busy = row["lead_id"] not in self.leads
            if busy:
                self.left.append(row["id"])
                self._say(
                    "clock %s on %s left to the next sweep: another change holds it",
                    row,
                )
            else:
                kept.append(row)
        self.rows = kept

    def _load(self) -> None:
        rows = self.rows

        def ids(name: str) -> set[int]:
            return {row[name] for row in rows if row[name] is not None}

        self.pipes = {
            pipeline.pk: _pipe(pipeline)
            for pipeline in Pipeline.objects.filter(pk__in=ids("pipeline_id"))
        }
        # The clocks' stages, and the deals' own: whether a deal that left a
        # clock's stage went forward.
        deal_stages = {deal["stage_id"] for deal in self.deals.values()}
        self.stages = Stage.objects.in_bulk(ids("stage_id") | deal_stages)
        self.handoffs = {
            h["id"]: h
            for h in Handoff.objects.filter(pk__in=ids("handoff_id")).values(
                "id", "from_stage__key", "to_stage__key"
            )
        }
        self.tasks_by_id = {
            a["id"]: a
            for a in Activity.objects.filter(pk__in=ids("activity_id")).values(
                "id", "subject", "done", "done_at"
            )
        }
        self.lead_tasks_by_id = {
            a["id"]: a
            for a in LeadActivity.objects.filter(pk__in=ids("lead_task_id")).values(
                "id", "subject", "done", "done_at"
            )
        }
        self.people = self._load_people()
        self.ends = self._load_ends()

    def _load_ends(self) -> dict[int, dict[str, dt.datetime | None]]:
        """When the obligations of some claimed clocks ended, by clock id, as
        the history records it, each the first since the clock started:
        "answered", a done call, email or meeting on the deal; "left", the
        deal's move out of the clock's stage; "closed", the deal's win or
        loss; "reassigned", an assignment of the lead after the one that
        started its window.

        One query over the clocks that may need it, none when no clock does:
        every deal's response window (only this query tells whether one was
        answered), the clocks of deals that closed or left the clock's stage,
        and the windows of leads that lost or changed their owner."""
        wanted = [row["id"] for row in self.rows if self._may_have_ended(row)]
        if not wanted:
            return {}

        def first(
            events: QuerySet[Any], after: str = "gte", column: str = "at"
        ) -> Subquery:
            since = {f"at__{after}": OuterRef("started_at")}
            found = events.filter(**since).order_by("at", "pk")
            return Subquery(found.values(column)[:1])

        deal_events = StageEvent.objects.filter(
            deal_id=OuterRef("deal_id"), from_status=Deal.Status.OPEN
        )
        out_of_stage = deal_events.filter(from_stage_id=OuterRef("stage_id"))
        found = (
            Clock.objects.filter(pk__in=wanted)
            .annotate(
                answered=first(
                    Activity.objects.filter(
                        deal_id=OuterRef("deal_id"), kind__in=RESPONSE_KINDS, done=True
                    )
                ),
                left=first(out_of_stage),
                # Where that move took the deal: whether it went forward.
                left_to=first(out_of_stage, column="to_status"),
                left_to_position=first(out_of_stage, column="to_stage__position"),
                closed=first(
                    deal_events.filter(
                        to_status__in=(Deal.Status.WON, Deal.Status.LOST)
                    )
                ),
                # Strictly after: the assignment that started the window is
                # at its start.
                reassigned=first(
                    LeadAssignment.objects.filter(lead_id=OuterRef("lead_id")), "gt"
                ),
            )
            .values(
                "id",
                "answered",
                "left",
                "left_to",
                "left_to_position",
                "closed",
                "reassigned",
            )
        )
        return {ends.pop("id"): ends for ends in found}

    def _may_have_ended(self, row: dict[str, Any]) -> bool:
        """Whether `_load_ends` must look for when `row`'s obligation ended."""
        if row["deal_id"] is not None:
            deal = self.deals[row["deal_id"]]
            return (
                row["kind"] == Clock.Kind.RESPONSE
                or deal["status"] != Deal.Status.OPEN
                or (row["kind"] in STAGE_KINDS and row["stage_id"] != deal["stage_id"])
            )
        lead = self.leads[row["lead_id"]]
        return row["kind"] == Clock.Kind.RESPONSE and (
            lead.status == Lead.Status.NEW or lead.owner_id != row["responsible_id"]
        )

    def _load_people(self) -> dict[int, dict[str, Any]]:
        """Everyone a notice may be about, with name and manager (one query;
        who has an email address is the outbox's business). A manager who
        leads the person's own team as that person, or who may no longer sign
        in, is no manager to escalate to: `no_manager` says why."""
        wanted = {row["responsible_id"] for row in self.rows}
        for deal in self.deals.values():
            wanted |= {deal["responsible_id"], deal["owner_id"]}
        wanted |= {lead.owner_id for lead in self.leads.values()}
        found = User.objects.filter(pk__in=wanted - {None}).values(
            "id",
            "username",
            "first_name",
            "last_name",
            "is_active",
            "team__manager_id",
            "team__manager__is_active",
            "team__manager__username",
            "team__manager__availability__away_from",
            "team__manager__availability__away_until",
        )
        people: dict[int, dict[str, Any]] = {}
        for person in found:
            manager = person["team__manager_id"]
            name = f"{person['first_name']} {person['last_name']}".strip()
            why = away = away_id = None
            if manager is None or manager == person["id"]:
                manager, why = None, NO_MANAGER
            elif not person["team__manager__is_active"]:
                manager, why = None, MANAGER_INACTIVE
            elif until := self._away_until(person):
                # An escalation must reach someone who is there to act; when
                # they are back is told in the zone of the clock's pipeline.
                away = (person["team__manager__username"], until)
                away_id, manager, why = manager, None, MANAGER_AWAY
            people[person["id"]] = {
                "manager_id": manager,
                "manager_username": person["team__manager__username"],
                "no_manager": why,
                "away": away,
                "away_id": away_id,
                "name": name or person["username"],
                "username": person["username"],
                "is_active": person["is_active"],
            }
        return people

    def _away_until(self, person: dict[str, Any]) -> dt.datetime | None:
        """When the person's manager is back, while they are away at the
        sweep's now (`dealgate leads away`); None when they are not away."""
        since = person["team__manager__availability__away_from"]
        until = person["team__manager__availability__away_until"]
        if until is None or until <= self.now or (since and since > self.now):
            return None
        return until

    def _admins(self) -> list[int]:
        """The firm's active admins, who get the escalations of people with
        no manager (one query, made only by a batch that needs it)."""
        if self.admins is None:
            self.admin_names = dict(
                User.objects.filter(role=User.Role.ADMIN, is_active=True)
                .order_by("id")
                .values_list("id", "username")
            )
            self.admins = list(self.admin_names)
        return self.admins

    # --- deciding ----------------------------------------------------------------

    def _verdict(self, row: dict[str, Any]) -> tuple[str, str, dt.datetime | None]:
        """OWED when the obligation still stands, else how it ended, why, and
        when: the time the database records for what ended it, or None where
        it records none (then `_plan_stop` takes the sweep's time)."""
        if row["deal_id"] is not None:
            return self._deal_verdict(row)
        if row["kind"] == Clock.Kind.NEXT_STEP:
            return self._lead_task_verdict(row)
        return self._lead_window_verdict(row)

    def _deal_verdict(self, row: dict[str, Any]) -> tuple[str, str, dt.datetime | None]:
        kind, deal = row["kind"], self.deals[row["deal_id"]]
        ends = self.ends.get(row["id"], {})
        stage_bound = kind in STAGE_KINDS
        left = stage_bound and (
            deal["status"] != Deal.Status.OPEN or row["stage_id"] != deal["stage_id"]
        )
        if left and ends.get("left") is not None:
            # The move out of the clock's stage ended it, met or cancelled as
            # the move's hook would have: whether the deal went forward.
            state, note = self._stage_left(
                row, ends["left_to"], ends["left_to_position"]
            )
            return state, note, ends["left"]
        if deal["status"] != Deal.Status.OPEN:
            # A next step ended with the close, and so did a stage's clock
            # whose deal left it without a stage event; the deal's close date
            # (the latest close) is the time the row keeps without one.
            position = self._stage_position(deal["stage_id"])
            state, note = self._stage_left(row, deal["status"], position)
            return state, note, ends.get("closed") or deal["closed_at"]
        if left:
            # Moved without a stage event (raw SQL): no time to date it by.
            position = self._stage_position(deal["stage_id"])
            state, note = self._stage_left(row, deal["status"], position)
            return state, note, None
        if kind == Clock.Kind.RESPONSE and ends.get("answered") is not None:
            return MET, "answered", ends["answered"]
        if kind == Clock.Kind.NEXT_STEP:
            return self._task_verdict(self.tasks_by_id.get(row["activity_id"]))
        return OWED, "", None

    def _stage_position(self, stage_id: int | None) -> int | None:
        stage = self.stages.get(stage_id) if stage_id is not None else None
        return stage.position if stage is not None else None

    def _stage_left(
        self, row: dict[str, Any], status: str, position: int | None
    ) -> tuple[str, str]:
        """How the deal's move to `status` (and the stage at `position`)
        ends `row`'s clock: `services.stage_left` decides, as for the move's
        hook. A clock without a stage (a next step) counts as left from
        where the deal is."""
        here = self._stage_position(row["stage_id"])
        if here is None:
            here = self._stage_position(self.deals[row["deal_id"]]["stage_id"]) or 0
        return stage_left(here, status, position)

    def _lead_task_verdict(
        self, row: dict[str, Any]
    ) -> tuple[str, str, dt.datetime | None]:
        lead = self.leads[row["lead_id"]]
        verdict = self._task_verdict(self.lead_tasks_by_id.get(row["lead_task_id"]))
        if verdict[0] == OWED and not lead.is_open:
            return CANCELLED, f"lead {lead.status}", lead.closed_at
        return verdict

    @staticmethod
    def _task_verdict(
        task: dict[str, Any] | None,
    ) -> tuple[str, str, dt.datetime | None]:
        """A next step's task done, or gone (deleted as the clock was
        claimed: no time is left to tell when); `done_at` is None for a task
        marked done by a write that did not date it."""
        if task is None:
            return MET, "task done", None
        if task["done"]:
            return MET, "task done", task["done_at"]
        return OWED, "", None

    def _lead_window_verdict(
        self, row: dict[str, Any]
    ) -> tuple[str, str, dt.datetime | None]:
        lead = self.leads[row["lead_id"]]
        reassigned = self.ends.get(row["id"], {}).get("reassigned")
        assigned = lead.assigned_at
        if reassigned is None and assigned and assigned > row["started_at"]:
            # A new owner written without an assignment row: its start time
            # is on the lead.
            reassigned = assigned
        if lead.first_response_at is not None:
            return MET, ANSWERED, lead.first_response_at
        if response_owed(lead) and lead.owner_id is None:
            # Waiting for an owner: the inquirer waits all the same.
            return OWED, "", None
        if lead.status != Lead.Status.ASSIGNED:
            # Converted, disqualified, merged or archived: closed then. Back
            # to new (its owner taken away): the assignment that did it, if
            # one was written. Answered without a first response: no time.
            # Met or cancelled as the lead's hook decides (`window_ended`).
            at = lead.closed_at if not lead.is_open else None
            if lead.status == Lead.Status.NEW:
                at = reassigned
            state, note = window_ended(lead)
            return state, note, at
        if lead.owner_id != row["responsible_id"]:
            return CANCELLED, "reassigned", reassigned
        return OWED, "", None

    def _plan_stop(
        self, row: dict[str, Any], state: str, note: str, at: dt.datetime | None
    ) -> None:
        """Stop a clock whose obligation is over, at the time it ended.

        That is the time `_verdict` found, kept within the clock's run (not
        before its start, not after the sweep's now), or the sweep's own time
        where the database keeps none: a change written without hooks and
        without a time of its own cannot be dated, and the clock is then
        stopped met or cancelled now, as sweeps always did.

        An obligation that ended after the clock's due time was missed: the
        clock ends breached and put right at that time, as `bulk.end_clocks`
        ends a late stop. Nothing is sent for it (no notice, task or second
        window), also as for a late stop: its owner has nothing left to do,
        and a notice of a breach already over would only tell what the
        history shows; the insights count it missed all the same. In an
        escalating batch the breached clock is put right at that time
        instead of escalated."""
        known = at is not None
        at = self.now if at is None else min(max(at, row["started_at"]), self.now)
        late = known and not self.escalating and at > row["late_after"]
        self.ended.append(_Stop(row["id"], state, note, at, late))
        if self.escalating:
            self._say("clock %s on %s put right before escalating: %s", row, note)
        elif late:
            self._say(
                "clock %s on %s breached: %s at %s, after it ran out; nothing sent",
                row,
                note,
                at.astimezone(dt.UTC).isoformat(),
            )
        else:
            self._say("clock %s on %s %s: %s", row, state, note)

    def _rule(self, row: dict[str, Any]) -> rules.BreachRule:
        pipe = self.pipes[row["pipeline_id"]]
        if row["kind"] == Clock.Kind.NEXT_STEP:
            return pipe.rules.next_steps
        if row["kind"] == Clock.Kind.AGE:
            stage = self.stages.get(row["stage_id"])
            return pipe.rules.for_stage(stage.key if stage else None)
        handoff = self.handoffs.get(row["handoff_id"])
        if handoff is None:
            return pipe.rules.default
        return pipe.rules.for_handoff(
            handoff["from_stage__key"], handoff["to_stage__key"]
        )

    def _plan_breach(self, row: dict[str, Any]) -> None:
        rule = self._rule(row)
        done = []
        if rule.does(rules.MARK_AT_RISK):
            done.append(rules.MARK_AT_RISK)
        recipient = self._active(row["responsible_id"] or self._owner_of(row))
        told = [recipient] if recipient is not None else []
        if not told and rule.does(rules.NOTIFY):
            told = self._told_instead(row)
        if rule.does(rules.NOTIFY) and not told:
            self.unaddressed.append(row["id"])
            self._name(self.unaddressed_on, row)
        elif rule.does(rules.NOTIFY):
            title, line = self._breach_titles(row)
            body = partial(self._breach_body, row)
            self.notices += [
                _Notice(user_id, Notice.Kind.BREACH, title, body, row, line)
                for user_id in told
            ]
            done.append(rules.NOTIFY)
        if rule.does(rules.TASK) or rule.does(rules.SEQUENCE):
            done += self._plan_tasks(row, rule, recipient)
        escalate_at = None
        if rule.schedules_escalation:
            calendar = self.pipes[row["pipeline_id"]].calendar
            minutes = rule.escalate_after_minutes or row["window_minutes"]
            # The second window runs from the end of the first.
            escalate_at = _second_window(calendar, row["due_at"], minutes)
            done += [a for a in (rules.ESCALATE, rules.REASSIGN) if rule.does(a)]
        at_risk = rule.does(rules.MARK_AT_RISK)
        self.breached.append((row["id"], at_risk, ",".join(done), escalate_at))
        self._say_breached(row, told, done, escalate_at)

    def _told_instead(self, row: dict[str, Any]) -> list[int]:
        """Who is told of a breach with nobody to tell (no owner, or one who
        may no longer sign in), for every kind of clock: the people a
        follow-up on a deal or lead nobody owns tells (`leads.dedup.
        told_instead`), who take new inquiries in. The active person owning
        the pipeline's intake stage, else the firm's active admins; none
        when there is neither. Why goes in `instead`, for the notice's body
        and the log. A lead waiting for an owner is the same case: its
        window already names its intake owner when it has one."""
        pipeline_id = row["pipeline_id"]
        if pipeline_id not in self.intake_owners:
            person = unplaced_responsible_id(Pipeline(pk=pipeline_id))
            self.intake_owners[pipeline_id] = person
            if person is not None:
                name = User.objects.filter(pk=person).values_list("username")
                self.admin_names[person] = name.get()[0]
        person = self.intake_owners[pipeline_id]
        if person is not None:
            self.instead[row["id"]] = INTAKE_OWNER
            return [person]
        self.instead[row["id"]] = NO_INTAKE_OWNER
        return self._admins()

    def _say_breached(
        self,
        row: dict[str, Any],
        told: list[int],
        done: list[str],
        escalate_at: dt.datetime | None,
    ) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        what = []
        if rules.NOTIFY in done:
            names = ", ".join(self._username(user_id) for user_id in told)
            instead = self.instead.get(row["id"])
            why = f" ({INSTEAD_LOGGED[instead]})" if instead else ""
            what.append(f"{names} told{why}")
        elif row["id"] in self.unaddressed:
            what.append("nobody told (no owner)")
        if rules.TASK in done or rules.SEQUENCE in done:
            what.append("follow-up tasks added")
        if escalate_at is not None:
            at = escalate_at.astimezone(dt.UTC).isoformat()
            what.append(f"escalates at {at}")
        said = "; ".join(what) or "marked only"
        self._say("clock %s on %s breached: %s", row, said)

    def _plan_escalation(self, row: dict[str, Any]) -> None:
        rule = self._rule(row)
        if TAKEN_OVER in row["actions"].split(","):
            self._plan_taken_over(row, rule)
            return
        if REASSIGNED in row["actions"].split(","):
            # Reassigned once for this obligation already: its second owner's
            # window ran out too, and their manager is told, not a third.
            self._escalate(row, ["reassigned before"])
            return
        if rule.does(rules.REASSIGN):
            # Decided in `_reassign`, once it is known whether anyone took it.
            self.reassignments.append((row, rule.does(rules.ESCALATE)))
            return
        self._escalate(row, [])

    def _plan_taken_over(self, row: dict[str, Any], rule: rules.BreachRule) -> None:
        """A lead's window that had run out when its new owner took it over
        (placed after it ran out, or given to them by hand: `TAKEN_OVER`,
        marked by `clocks.services.lead_changed`): tell them of the breach,
        once, as the rules tell an owner, and give them one second window of
        their own from the takeover, at the end of which the escalation the
        rules name goes to their manager (or reassigns) as for any breach.
        Whoever was told before (the admins of a lead waiting for an owner)
        is not told again. A sweep that comes after that window too (a
        sweeper that was down) escalates it in its next batch."""
        recipient = self._active(row["responsible_id"])
        told = [recipient] if recipient is not None else []
        if rule.does(rules.NOTIFY) and told:
            title, line = self._breach_titles(row)
            body = partial(self._breach_body, row)
            self.notices.append(
                _Notice(recipient, Notice.Kind.BREACH, title, body, row, line)
            )
        else:
            told = []
        # From the takeover (`escalate_at` holds its instant until now), as
        # the pages have shown it since (`taken_over_escalation`).
        calendar = self.pipes[row["pipeline_id"]].calendar
        escalate_at = _taken_over_window(
            rule, calendar, row["escalate_at"], row["window_minutes"]
        )
        kept = [a for a in row["actions"].split(",") if a and a != TAKEN_OVER]
        name = self._username(row["responsible_id"])
        note = f"taken over by {name} after it ran out" + (", told" if told else "")
        self.taken_over.append((row["id"], escalate_at, ",".join(kept), note))
        at = escalate_at.astimezone(dt.UTC).isoformat() if escalate_at else "never"
        self._say("clock %s on %s %s; escalates at %s", row, note, at)

    def _escalate(self, row: dict[str, Any], said: list[str]) -> None:
        """Tell the owner's manager (the escalation notice) and record, with
        what else happened (`said`), what the second window came to.

        Without a manager (none, themselves, one who may no longer sign in,
        or one away at the sweep's now) or without an owner, the firm's
        active admins are told instead, never the person themselves nor the
        manager away; with nobody at all, the clock is noted and counted
        apart, not as escalated."""
        person_id = row["responsible_id"] or self._owner_of(row)
        person = self.people.get(person_id) if person_id is not None else None
        name = person["name"] if person else NO_OWNER
        why = None
        if person is not None and person["manager_id"] is not None:
            told = [person["manager_id"]]
            said.append("escalated to the manager")
            text, whom = (
                "escalated (%s): the manager %s told",
                [person["manager_username"]],
            )
        else:
            # Never the person themselves, nor a manager away who is an admin.
            passed = {person_id, person["away_id"] if person else None}
            told = [admin for admin in self._admins() if admin not in passed]
            why = person["no_manager"] if person else NO_OWNER
            if person is not None and person["away"]:
                manager, until = person["away"]
                zone = self.pipes[row["pipeline_id"]].calendar.timezone
                why = f"{manager} is away until {notice_time(until, zone)}"
            said.append(f"escalated to an admin: {why}" if told else NOBODY_TO_TELL)
            admins = ", ".join(self.admin_names[admin] for admin in told)
            text, whom = "escalated (%s): admins %s told (%s)", [admins, why]
            if not told:
                self.not_escalated += 1
                self._name(self.not_escalated_on, row)
                text = f"{NOBODY_TO_TELL} (%s; %s, and no other active admin)"
                whom = [why]
        username = person["username"] if person else NO_OWNER
        self._say(f"clock %s on %s {text}", row, username, *whom)
        title = f"Escalated: {self._label(row)}"
        body = partial(self._escalation_body, row, name, why)
        line = f"{_short(self._label(row))} ({name}): {MISSED[row['kind']]}"
        for user_id in told:
            self.notices.append(
                _Notice(user_id, Notice.Kind.ESCALATION, title, body, row, line)
            )
        self.escalated.setdefault(" and ".join(said), []).append(row["id"])

    def _plan_tasks(
        self, row: dict[str, Any], rule: rules.BreachRule, recipient: int | None
    ) -> list[str]:
        """Follow-up task and sequence: dated tasks on the deal or the lead,
        each with its own next-step clock."""
        calendar = self.pipes[row["pipeline_id"]].calendar
        steps = []
        if rule.does(rules.TASK):
            within = rule.escalate_after_minutes or row["window_minutes"]
            steps.append((f"{rule.task}: {self._label(row)}", within))
        if rule.does(rules.SEQUENCE):
            steps += [(step.task, step.after_minutes) for step in rule.sequence]
        dated = [
            (subject, business_time.add(calendar, self.now, after))
            for subject, after in steps
        ]
        if row["deal_id"] is not None:
            self.tasks += [(row, cut(subject, 300), due) for subject, due in dated]
        else:
            self.lead_tasks += [
                (row, cut(subject, 300), due, recipient) for subject, due in dated
            ]
        return [a for a in (rules.TASK, rules.SEQUENCE) if rule.does(a)]

    # --- logging -------------------------------------------------------------------

    def _say(self, text: str, row: dict[str, Any], *args: Any) -> None:
        """Keep a line about `row`'s clock, whose first two placeholders are
        its id and its deal or lead, to log once the batch is committed."""
        if log.isEnabledFor(logging.INFO):
            self.said.append((text, (row["id"], _subject(row), *args)))

    def _name(self, named: list[str], row: dict[str, Any]) -> None:
        if len(named) < NAMED:
            named.append(f"{_subject(row)} (clock {row['id']})")

    def _active(self, user_id: int | None) -> int | None:
        """`user_id` while they may sign in: one who left is told nothing,
        and their breach counts as one with nobody to tell."""
        person = self.people.get(user_id) if user_id is not None else None
        return user_id if person is None or person["is_active"] else None

    def _username(self, user_id: int | None) -> str:
        person = self.people.get(user_id) if user_id is not None else None
        if person is None and user_id in self.admin_names:
            return self.admin_names[user_id]
        return person["username"] if person else f"user {user_id}"

    def _waiting(self, row: dict[str, Any]) -> bool:
        """Whether `row` is the response window of a lead waiting for an
        owner (no routing rule could place it)."""
        if row["lead_id"] is None or row["kind"] != Clock.Kind.RESPONSE:
            return False
        return self.leads[row["lead_id"]].owner_id is None

    def log_each(self) -> None:
        """Log at INFO what the batch did to each clock, with its deal or
        lead and the people told (after its commit)."""
        for text, args in self.said:
            log.info(text, *args)

    # --- words ---------------------------------------------------------------------

    def _owner_of(self, row: dict[str, Any]) -> int | None:
        if row["deal_id"] is not None:
            deal = self.deals[row["deal_id"]]
            return deal["responsible_id"] or deal["owner_id"]
        return self.leads[row["lead_id"]].owner_id

    def _label(self, row: dict[str, Any]) -> str:
        if row["deal_id"] is not None:
            return self.deals[row["deal_id"]]["title"]
        return self.leads[row["lead_id"]].label

    def _breach_titles(self, row: dict[str, Any]) -> tuple[str, str]:
        """The title of a notice about this breach alone, and its line in a
        digest, where long names are cut (the same text when none is)."""
        label = self._label(row)
        task = self._task_subject(row) if row["kind"] == Clock.Kind.NEXT_STEP else ""
        waiting = self._waiting(row)
        title = self._breach_title(row, label, task, waiting)
        if len(label) <= LINE_LABEL and len(task) <= LINE_LABEL:
            return title, title
        return title, self._breach_title(row, _short(label), _short(task), waiting)

    @staticmethod
    def _breach_title(
        row: dict[str, Any], label: str, task: str, waiting: bool = False
    ) -> str:
        if waiting:
            return f"New lead waiting for an owner: {label}"
        if row["kind"] == Clock.Kind.AGE:
            return f"Over the age limit: {label}"
        if row["kind"] == Clock.Kind.NEXT_STEP:
            return f"Next step overdue: {task} ({label})"
        if row["lead_id"] is not None:
            return f"New lead not answered: {label}"
        return f"No response yet: {label}"

    def _breach_body(self, row: dict[str, Any]) -> str:
        """What a notice about this one breach says (a digest lists titles),
        and to whoever is told instead of nobody, why them (`_told_instead`;
        a lead waiting for an owner says so in its own words)."""
        said = self._breach_words(row)
        instead = self.instead.get(row["id"])
        if instead is None or self._waiting(row):
            return said
        return f"{said} {INSTEAD_SAID[instead]}"

    def _breach_words(self, row: dict[str, Any]) -> str:
        pipe = self.pipes[row["pipeline_id"]]
        label = self._label(row)
        window = format_span(row["window_minutes"], pipe.calendar.day_minutes)
        due = notice_time(row["due_at"], pipe.calendar.timezone)
        stage = self.stages.get(row["stage_id"])
        stage_name = stage.name if stage else "its stage"
        if row["kind"] == Clock.Kind.AGE:
            return (
                f"{label} has been in {stage_name} longer than its limit of "
                f"{window}, which ran out {due}. Move it on, or close it."
            )
        if row["kind"] == Clock.Kind.NEXT_STEP:
            task = self._task_subject(row)
            return f'The next step "{task}" on {label} was due {due}.'
        if self._waiting(row):
            return (
                f"No routing rule could place the lead {label}, and its response "
                f"window of {window} ran out at {due}. Give it an owner on its "
                "page, or answer it yourself."
            )
        if row["lead_id"] is not None:
            return (
                f"The lead {label} has waited longer than its response window "
                f"of {window} (due {due}). Call or write to them now."
            )
        return (
            f"{label} entered {stage_name} and the response window of {window} "
            f"ran out at {due}. Get back to the buyer now."
        )

    def _task_subject(self, row: dict[str, Any]) -> str:
        tasks = self.tasks_by_id if row["deal_id"] else self.lead_tasks_by_id
        key = "activity_id" if row["deal_id"] else "lead_task_id"
        return tasks.get(row[key], {}).get("subject", "")

    def _escalation_body(
        self, row: dict[str, Any], person: str, no_manager: str | None
    ) -> str:
        """What an escalation says; to an admin (`no_manager` says why
        there is no manager to tell), also why it came to them. The time
        since the clock ran out is counted to the sweep's now, not to the
        end of the second window: a sweep that runs late (a sweeper that
        was down) says how long the obligation has really waited."""
        pipe = self.pipes[row["pipeline_id"]]
        label = self._label(row)
        what = MISSED[row["kind"]]
        since = business_time.between(pipe.calendar, row["due_at"], self.now)
        after = _elapsed(since, pipe.calendar.day_minutes)
        who = "Nobody has" if no_manager == NO_OWNER else f"{person} has not"
        text = (
            f"{who} acted on {label}: {what} ran out at "
            f"{notice_time(row['due_at'], pipe.calendar.timezone)}, {after} ago."
        )
        if no_manager is None:
            return text
        because = ADMIN_BECAUSE.get(no_manager, ADMIN_BECAUSE[MANAGER_AWAY])
        return f"{text} {because.format(person=person, away=no_manager)}"

    # --- writing -------------------------------------------------------------------

    def _write_states(self) -> None:
        """Stop, breach or escalate the claimed clocks; a row no longer in the
        claimed state undoes the batch (it cannot happen under the claim's
        locks, and must not)."""
        was = BREACHED if self.escalating else RUNNING
        self._write_stops()
        changed = bulk.update_each(
            Clock,
            ("at_risk", "actions", "escalate_at"),
            self.breached,
            also={"state": BREACHED, "ended_at": self.now},
            only_if=("state", RUNNING),
        )
        if changed != len(self.breached):
            _conflict(len(self.breached) - changed)
        if self.unaddressed:
            _update(self.unaddressed, BREACHED, note="not notified: nobody to tell")
        changed = bulk.update_each(
            Clock,
            ("responsible_id", "escalate_at", "actions", "note"),
            self.rewindowed,
            also={},
            only_if=("state", BREACHED),
        )
        if changed != len(self.rewindowed):
            _conflict(len(self.rewindowed) - changed)
        changed = bulk.update_each(
            Clock,
            ("escalate_at", "actions", "note"),
            self.taken_over,
            also={},
            only_if=("state", BREACHED),
        )
        if changed != len(self.taken_over):
            _conflict(len(self.taken_over) - changed)
        for note, ids in self.escalated.items():
            _update(ids, was, escalated_at=self.now, note=note)

    def _write_stops(self) -> None:
        """Each clock found over, at its own time (`_plan_stop`): a breached
        one put right, a running one met or cancelled, or breached and put
        right when it ended late. One statement for the batch."""
        if not self.ended:
            return
        if self.escalating:
            columns: tuple[str, ...] = ("resolved_at", "note")
            rows = [(stop.clock_id, stop.at, stop.note) for stop in self.ended]
            also, was = {"at_risk": False, "is_open": False}, BREACHED
        else:
            columns = ("state", "ended_at", "resolved_at", "note")
            rows = [
                (stop.clock_id, BREACHED, stop.at, stop.at, stop.note)
                if stop.late
                else (stop.clock_id, stop.state, stop.at, None, stop.note)
                for stop in self.ended
            ]
            also, was = {"is_open": False}, RUNNING
        changed = bulk.update_each(
            Clock, columns, rows, also=also, only_if=("state", was)
        )
        if changed != len(rows):
            _conflict(len(rows) - changed)

    def _write_notices(self) -> None:
        """Notices with ids taken up front, in one COPY (PostgreSQL) or
        executemany (SQLite), then their outbox rows with one INSERT ...
        SELECT per channel.

        A person with several of one kind in the batch gets one digest that
        lists them: a sweep after a weekend's downtime, or the first after an
        import, would otherwise send a rep hundreds of mails (and a chat
        webhook takes about one message a second)."""
        groups: dict[tuple[int, str], list[_Notice]] = {}
        for notice in self.notices:
            groups.setdefault((notice.user_id, notice.kind), []).append(notice)
        for key in self._merge_into_earlier(groups):
            del groups[key]
        ids = bulk.next_ids(Notice, len(groups))
        rows = []
        for notice_id, told in zip(ids, groups.values(), strict=True):
            if len(told) == 1:
                (n,) = told
                rows.append(
                    (notice_id, n.user_id, n.kind, cut(n.title, 300), n.body())
                    + (subject_url(n.row["deal_id"], n.row["lead_id"]),)
                    + (n.row["deal_id"], n.row["lead_id"], n.row["id"], self.now)
                    + ("[]", 0)
                )
            else:
                items = _items(told)
                subjects = _subjects(items)
                title, body = _digest_words(told[0].kind, subjects)
                kept, more = _kept([], 0, items)
                rows.append(
                    (notice_id, told[0].user_id, told[0].kind, title, body)
                    + (today_url(), None, None, None, self.now)
                    + (json.dumps(kept), more)
                )
                self.digests[notice_id] = _Digest(subjects, len(items))
        bulk.insert_rows(Notice, _NOTICE_FIELDS, rows)
        self.written = len(rows)
        if ids:
            queue_deliveries(ids)

    def _merge_into_earlier(
        self, groups: dict[tuple[int, str], list[_Notice]]
    ) -> list[tuple[int, str]]:
        """Add each group to the notice an earlier batch of this sweep wrote
        for the same person and kind, while that notice is unread and none of
        its deliveries has been taken by a sender, and its title can count
        the deals and leads of all its entries (`_subjects_of`): a sweep of
        several batches then still tells a person once. The entries past the
        first DIGEST_LINES are counted, not kept. Returns the groups merged.

        The notices and their deliveries are locked first (PostgreSQL): a
        racing sweeper adds to a notice only after this one's commit, on what
        it wrote, and a sender, which skips locked deliveries, sends the
        notice as merged or as it was before."""
        if not groups:
            return []
        earlier = Notice.objects.filter(
            created_at=self.now,
            user_id__in={user for user, _ in groups},
            kind__in={kind for _, kind in groups},
            read_at=None,
        ).order_by("id")
        deliveries = Delivery.objects.all()
        if connection.features.has_select_for_update:
            earlier = earlier.select_for_update()
            deliveries = deliveries.select_for_update()
        found = list(earlier)
        if not found:
            return []
        deliveries = deliveries.filter(notice_id__in=[n.pk for n in found])
        taken = {
            notice_id
            for notice_id, state, attempts in deliveries.values_list(
                "notice_id", "state", "attempts"
            )
            if state != Delivery.State.PENDING or attempts
        }
        # The newest per person and kind: a third batch joins the second's.
        latest = {(n.user_id, n.kind): n for n in found if n.pk not in taken}
        merged = []
        for key, told in groups.items():
            notice = latest.get(key)
            if notice is None:
                continue
            subjects = self._subjects_of(notice)
            if subjects is None:
                continue
            entries = list(notice.items) or [_item_of(notice)]
            added = _items(told)
            subjects |= _subjects(added)
            title, body = _digest_words(notice.kind, subjects)
            kept, more = _kept(entries, notice.more_items, added)
            Notice.objects.filter(pk=notice.pk).update(
                title=title,
                body=body,
                url=today_url(),
                deal=None,
                lead=None,
                clock=None,
                items=kept,
                more_items=more,
            )
            total = len(entries) + notice.more_items + len(added)
            self.digests[notice.pk] = _Digest(subjects, total)
            merged.append(key)
        return merged

    def _subjects_of(self, notice: Notice) -> set[tuple[str, int, str]] | None:
        """The subjects of every entry of `notice`, or None when they cannot
        all be known: it counts entries it does not keep, and this sweep did
        not write them all (another sweeper running at the same instant
        added some). Such a notice is left as it is, and the batch writes a
        digest of its own, so that a title never counts a deal twice."""
        known = self.digests.get(notice.pk)
        if known is not None and known.entries == len(notice.items) + notice.more_items:
            return set(known.subjects)
        if notice.more_items:
            return None
        return _subjects(notice.items or [_item_of(notice)])

    def _write_tasks(self) -> None:
        self._write_lead_tasks()
        if not self.tasks:
            return
        made = Activity.objects.bulk_create(
            Activity(
                deal_id=row["deal_id"],
                kind=Activity.Kind.TASK,
                subject=subject,
                tag=FOLLOW_UP_TAG,
                done=False,
                due_at=due,
                at=self.now,
            )
            for row, subject, due in self.tasks
        )
        clocks = [
            self._step_clock(
                row,
                next_step_key(task.pk),
                row["deal_id"],
                task.pk,
                row["responsible_id"] or self._owner_of(row),
                due,
            )
            for task, (row, _, due) in zip(made, self.tasks, strict=True)
        ]
        bulk.insert_rows(Clock, _STEP_FIELDS, clocks)

    def _write_lead_tasks(self) -> None:
        """The follow-up tasks on leads, each with a next-step clock for the
        lead's owner (as a deal's task has for the deal's)."""
        if not self.lead_tasks:
            return
        made = LeadActivity.objects.bulk_create(
            LeadActivity(
                lead_id=row["lead_id"],
                kind=LeadActivity.Kind.TASK,
                subject=subject,
                due_at=due,
                done=False,
                at=self.now,
            )
            for row, subject, due, _ in self.lead_tasks
        )
        clocks = [
            self._step_clock(
                row, lead_task_key(task.pk), row["lead_id"], task.pk, owner, due
            )
            for task, (row, _, due, owner) in zip(made, self.lead_tasks, strict=True)
        ]
        bulk.insert_rows(Clock, _LEAD_STEP_FIELDS, clocks)

    def _step_clock(
        self,
        row: dict[str, Any],
        key: str,
        subject_id: int,
        task_id: int,
        responsible: int | None,
        due: dt.datetime,
    ) -> tuple[Any, ...]:
        """A running next-step clock for a follow-up task, in the order of
        _STEP_FIELDS (a deal's) and _LEAD_STEP_FIELDS (a lead's)."""
        calendar = self.pipes[row["pipeline_id"]].calendar
        minutes = business_time.between(calendar, self.now, due)
        return (
            *(Clock.Kind.NEXT_STEP, RUNNING, key, row["pipeline_id"], subject_id),
            *(task_id, responsible, minutes, self.now, due),
            *(business_time.next_opening(calendar, due), False, "", ""),
        )

    def _reassign(self) -> None:
        """Hand the obligation to someone else (few rows: ORM and services),
        who gets a second window of their own (`_rewindow`), unless the rule
        escalates as well. When nobody else can take it, or only its owner
        again, nothing is reassigned: it stays with its owner, still
        breached, and the manager is told instead, once, as for an
        escalation.

        A deal or lead is reassigned at most once per decision, and never
        bounced back: when several of its clocks call for it, the first
        decides, and the others, in this batch or a later one, are escalated
        while a clock the sweep reassigned to its present person is still
        open (`_reassigned_before`), as a clock reassigned once is. Once
        those are closed, a later reassignment passes over everyone the
        sweep ever took the deal or lead from (`taken_from`)."""
        decided: dict[str, User | None] = {}
        for row, also_escalate in self.reassignments:
            subject = _subject(row)
            if subject in decided or _reassigned_before(row):
                said = "reassigned before"
                if subject in decided and decided[subject] is None:
                    said = "nobody to reassign to"
                self._escalate(row, [said])
                continue
            if row["lead_id"] is not None:
                to = _reassign_lead(row, self.notices, self.now)
            else:
                to = _reassign_deal(row, self.notices, self.now)
            decided[subject] = to
            self.reassigned += to is not None
            said = ["reassigned" if to is not None else "nobody to reassign to"]
            if also_escalate or to is None:
                self._escalate(row, said)
            else:
                self._rewindow(row, to)

    def _rewindow(self, row: dict[str, Any], to: User) -> None:
        """Give the person a clock was reassigned to one more second window
        of their own, at the end of which their manager is told (`REASSIGNED`
        in its actions keeps it from being reassigned again): the same
        obligation, still breached, with its due time as it was."""
        calendar = self.pipes[row["pipeline_id"]].calendar
        minutes = self._rule(row).escalate_after_minutes or row["window_minutes"]
        escalate_at = _second_window(calendar, self.now, minutes)
        actions = ",".join(filter(None, [row["actions"], REASSIGNED]))
        note = f"reassigned to {to.username}"
        self.rewindowed.append((row["id"], to.pk, escalate_at, actions, note))
        at = escalate_at.astimezone(dt.UTC).isoformat()
        self._say(f"clock %s on %s {note}; escalates at %s", row, at)

    def _add_to(self, result: SweepResult) -> None:
        if self.escalating:
            # A clock this sweep breached was counted then; one put right
            # after all counts as met or cancelled below.
            seen = result.breached_past_second_window
            fresh = [row["id"] for row in self.rows if row["id"] not in seen]
            ended = {stop.clock_id for stop in self.ended}
            taken = {clock_id for clock_id, *_ in self.taken_over}
            result.due += len(fresh)
            result.earlier += sum(
                1 for clock_id in fresh if clock_id not in ended | taken
            )
            result.taken_over += len(taken)
            # Past its new window already: the next claim escalates it, as
            # one clock of this sweep, not counted again.
            result.breached_past_second_window.update(
                clock_id
                for clock_id, escalate_at, *_ in self.taken_over
                if escalate_at is not None and escalate_at <= self.now
            )
        else:
            result.due += len(self.rows)
            result.breached_past_second_window.update(
                clock_id
                for clock_id, _, _, escalate_at in self.breached
                if escalate_at is not None and escalate_at <= self.now
            )
        for stop in self.ended:
            if stop.late:
                result.breached += 1
                result.over += 1
            elif stop.state == MET:
                result.met += 1
            else:
                result.cancelled += 1
        result.breached += len(self.breached)
        escalated = sum(len(ids) for ids in self.escalated.values())
        result.escalated += escalated - self.not_escalated
        result.not_escalated += self.not_escalated
        result.notices += self.written
        result.tasks += len(self.tasks) + len(self.lead_tasks)
        result.reassigned += self.reassigned
        result.unaddressed += len(self.unaddressed)
        for named, mine in (
            (result.unaddressed_on, self.unaddressed_on),
            (result.not_escalated_on, self.not_escalated_on),
        ):
            named += mine[: NAMED - len(named)]


_DEAL_FIELDS = (
    "id",
    "title",
    "status",
    "stage_id",
    "owner_id",
    "responsible_id",
    "closed_at",
)


def _deals(ids: set[int], *, lock: bool = False) -> dict[int, dict[str, Any]]:
    """What the batch needs of its deals, by id (raw: a thousand ids go as
    one array on PostgreSQL); with `lock`, locked FOR UPDATE, leaving out
    those another transaction holds."""
    quote = connection.ops.quote_name
    table = quote(Deal._meta.db_table)
    select = f"SELECT {', '.join(map(quote, _DEAL_FIELDS))} FROM {table} WHERE "
    locking = " FOR UPDATE SKIP LOCKED" if lock else ""
    deals = {}
    for condition, params, _ in bulk.where_in("id", sorted(ids)):
        found, _ = bulk.run(select + condition + locking, params)
        for values in found:
            deal = dict(zip(_DEAL_FIELDS, values, strict=True))
            deal["closed_at"] = bulk.instant(deal["closed_at"])
            deals[values[0]] = deal
    return deals


def _shared(ids: set[int]) -> set[int]:
    """Of the pipelines `ids`, those no one is changing, held FOR KEY SHARE
    (PostgreSQL): a next-step clock the batch writes refers to its pipeline,
    and a change of the pipeline (its file applied) locks it and then writes
    its clocks. The weakest lock that check needs: an ordinary update of the
    pipeline's row does not wait for it."""
    quote = connection.ops.quote_name
    table = quote(Pipeline._meta.db_table)
    found: set[int] = set()
    for condition, params, _ in bulk.where_in("id", sorted(ids)):
        rows, _ = bulk.run(
            f"SELECT id FROM {table} WHERE {condition} FOR KEY SHARE SKIP LOCKED",
            params,
        )
        found.update(pipeline_id for (pipeline_id,) in rows)
    return found


def _subject(row: dict[str, Any]) -> str:
    """A clock's deal or lead, as logs name it: "deal 12", "lead 7"."""
    if row["deal_id"] is not None:
        return f"deal {row['deal_id']}"
    return f"lead {row['lead_id']}"


def _update(ids: list[int], was: str, **changes: Any) -> None:
    """Set `changes` on the clocks `ids`, which must all still be in state
    `was` (one statement per chunk of ids)."""
    quote = connection.ops.quote_name
    table = quote(Clock._meta.db_table)
    columns = ", ".join(f"{quote(name)} = %s" for name in changes)
    values = [bulk.adapt(value) for value in changes.values()]
    for condition, params, count in bulk.where_in("id", ids):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {columns} WHERE {condition} AND state = %s",
                [*values, *params, was],
            )
            if cursor.rowcount != count:
                _conflict(count - cursor.rowcount)


def _conflict(missing: int) -> None:
    raise SweepConflict(
        f"{counted(missing, 'claimed clock')} changed during the sweep; the batch "
        "is undone and will be tried again"
    )


def _reassign_lead(
    row: dict[str, Any], told: list[_Notice], now: dt.datetime
) -> User | None:
    """Route the lead again by the pipeline's rules, skipping its owner and
    everyone who had it before (never back to someone it was taken from),
    and return whom it went to; None when routing gives nobody else (a
    fallback rule may name one of them again). Routing is asked first
    without a change: a lead that would come back to one of them is no
    reassignment, and keeps its assignment, window and rotation as they
    were."""
    # Imported here: leads.services imports deals.services, which calls into
    # this app when a deal moves.
    from dealgate.leads.services import assign_lead

    lead = Lead.objects.select_related("pipeline").get(pk=row["lead_id"])
    before = lead.owner_id
    if before is None:
        # Waiting for an owner: the sweep routes it on every tick already.
        return None
    facts = {
        "source": lead.source,
        "channel": lead.channel,
        "country": lead.country,
        "segment": lead.segment,
        "company_size": lead.company_size,
        "value": lead.value,
    }
    had = frozenset(
        {
            before,
            *LeadAssignment.objects.filter(lead=lead).values_list(
                "owner_id", flat=True
            ),
            *taken_from(lead_id=lead.pk),
        }
    )
    try:
        routed = assign.route(lead.pipeline, facts, now, exclude=had, defer_turn=True)
        if routed.owner is None or routed.owner.pk in had:
            log.info(
                "clock %s: routing has nobody but its owner for lead %s (%s); "
                "manager to be told",
                row["id"],
                lead.pk,
                routed.reason,
            )
            return None
        lead = assign_lead(
            lead.pk,
            None,
            by=None,
            note=f"response {REASSIGN_WHY}",
            now=now,
            exclude=had,
        )
        # The sweep tells the new owner itself ("Now yours") and gives them
        # their second window: not a window taken over untold (`TAKEN_OVER`).
        Clock.objects.filter(pk=row["id"]).update(
            actions=row["actions"], escalate_at=row["escalate_at"], escalated_at=None
        )
        _record(row, before, lead.owner_id, now)
    except DealgateError as exc:
        # The lead keeps its owner; the caller tells the manager.
        log.info(
            "clock %s: lead %s not reassigned, manager to be told: %s",
            row["id"],
            lead.pk,
            exc,
        )
        return None
    told += _reassigned(row, lead.owner, before, f"lead {lead.label}")
    log.info(
        "clock %s: lead %s reassigned from user %s to %s",
        row["id"],
        lead.pk,
        before,
        lead.owner.username,
    )
    return lead.owner


def _reassign_deal(
    row: dict[str, Any], told: list[_Notice], now: dt.datetime
) -> User | None:
    """Give the deal to the least loaded active colleague in the responsible
    person's team (ties: lowest id) whom the sweep never took it from, with
    its open clocks that were the person's; returns the colleague, None when
    there is none."""
    deal = Deal.objects.select_related("responsible", "owner").get(pk=row["deal_id"])
    current = deal.responsible or deal.owner
    if current is None or current.team_id is None:
        return None
    colleague = _active_colleague(row, current, taken_from(deal_id=deal.pk))
    if colleague is None:
        return None
    Deal.objects.filter(pk=deal.pk).update(
        responsible=colleague, version=F("version") + 1
    )
    # Running or run out, the claimed clock too: the work is the colleague's
    # now, as a change of owner hands it (services.deal_reassigned).
    mine = Q(responsible=current) | Q(pk=row["id"])
    Clock.objects.filter(mine, deal=deal, is_open=True).update(responsible=colleague)
    _record(row, current.pk, colleague.pk, now)
    told += _reassigned(row, colleague, current.pk, deal.title)
    log.info(
        "clock %s: deal %s reassigned from %s to %s",
        row["id"],
        deal.pk,
        current.username,
        colleague.username,
    )
    return colleague


def _active_colleague(
    row: dict[str, Any], current: User, passed: frozenset[int] = frozenset()
) -> User | None:
    """The least loaded colleague of `current` in their team (ties: lowest
    id), other than those `passed` over (whom the sweep took the deal from
    before), who is read active again, under a lock, right before the deal is
    written: on PostgreSQL FOR KEY SHARE SKIP LOCKED, the lock a
    deactivation's hold on the leaver conflicts with
    (`accounts.handover.hold`). One being deactivated now is passed over at
    once, without waiting for their hand-over (as routing passes them over:
    `leads.assign._people`); one deactivated since the loads were read is
    read inactive and passed over too; the one taken holds any deactivation
    of theirs until the sweep's batch commits, which then hands this deal
    over with the rest. SQLite serialises writers: the read alone."""
    loads = deal_services.team_loads(current.team_id)
    for person in {current.pk, *passed}:
        loads.pop(person, None)
    for member in sorted(loads, key=lambda pk: (loads[pk], pk)):
        if _still_active(member):
            return User.objects.get(pk=member)
        log.info(
            "clock %s: deal %s not reassigned to user %s: left or being deactivated",
            row["id"],
            row["deal_id"],
            member,
        )
    return None


def _still_active(user_id: int) -> bool:
    """Whether the person may still sign in, read again; on PostgreSQL
    locked FOR KEY SHARE to the end of the transaction, or False at once
    when a deactivation holds them (see `_active_colleague`)."""
    table = connection.ops.quote_name(User._meta.db_table)
    lock = " FOR KEY SHARE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    found, _ = bulk.run(
        f'SELECT "id" FROM {table} WHERE "id" = %s AND "is_active"{lock}', [user_id]
    )
    return bool(found)


def taken_from(
    *, deal_id: int | None = None, lead_id: int | None = None
) -> frozenset[int]:
    """Everyone the sweep ever took the deal `deal_id` (or the lead
    `lead_id`) from: no later reassignment of it by the sweep gives it back
    to any of them (one query, on a partial index)."""
    subject = Q(deal_id=deal_id) if deal_id is not None else Q(lead_id=lead_id)
    found = Reassignment.objects.filter(subject).values_list("taken_from_id", flat=True)
    return frozenset(found)


def _record(row: dict[str, Any], before: int, after: int, now: dt.datetime) -> None:
    """Keep that the sweep took `row`'s deal or lead from `before` and gave
    it to `after`, for good: the clock that moved it closes one day, the
    rule "never back" does not (`taken_from`)."""
    Reassignment.objects.create(
        deal_id=row["deal_id"],
        lead_id=None if row["deal_id"] else row["lead_id"],
        clock_id=row["id"],
        taken_from_id=before,
        given_to_id=after,
        at=now,
    )


def _reassigned_before(row: dict[str, Any]) -> bool:
    """Whether another open clock of the row's deal or lead was reassigned by
    the sweep (`REASSIGNED` in its actions): the deal or lead is with the
    person the sweep chose, on their own second window, and goes to nobody
    else, least of all back, until that obligation is put right."""
    mine = Q(deal_id=row["deal_id"]) if row["deal_id"] else Q(lead_id=row["lead_id"])
    others = Clock.objects.filter(mine, is_open=True).exclude(pk=row["id"])
    return any(
        REASSIGNED in actions.split(",")
        for actions in others.filter(actions__contains=REASSIGNED).values_list(
            "actions", flat=True
        )
    )


# Why the sweep reassigns: the window ran out once, and then the time its
# rule allows after a breach (`escalate_after`, by default one more window)
# passed with nothing done; never "ran out twice", which no clock does.
REASSIGN_WHY = "window ran out and the time allowed after it passed without action"


def _reassigned(
    row: dict[str, Any], to: User, before: int | None, label: str
) -> list[_Notice]:
    """The notices of a reassignment, for the new person and the one before,
    written with the batch's others (and gathered in digests like them)."""
    kind = Notice.Kind.REASSIGNED
    mine = f"{label} was reassigned to you: its {REASSIGN_WHY}."
    told = [
        _Notice(
            to.pk,
            kind,
            f"{NOW_YOURS}: {label}",
            lambda: mine,
            row,
            f"{NOW_YOURS}: {_short(label)}",
            GAINED,
        )
    ]
    if before is not None and User.objects.filter(pk=before, is_active=True).exists():
        theirs = f"{label} was reassigned to {to.display_name}."
        line = f"Reassigned: {_short(label)} (to {to.display_name})"
        told.append(
            _Notice(
                before, kind, f"Reassigned: {label}", lambda: theirs, row, line, LOST
            )
        )
    return told


def _short(label: str) -> str:
    return cut(label, LINE_LABEL)


def _items(told: list[_Notice]) -> list[dict[str, Any]]:
    """A digest's entries for `told`: what the notices page lists and the
    sender writes into mails and chat messages with their links; a
    reassignment's say which side of it the person is on (`side`)."""
    return [
        {
            "clock": n.row["id"],
            "title": n.line,
            "url": subject_url(n.row["deal_id"], n.row["lead_id"]),
            "deal": n.row["deal_id"],
            "lead": n.row["lead_id"],
            **({"side": n.side} if n.side else {}),
        }
        for n in told
    ]


def _item_of(notice: Notice) -> dict[str, Any]:
    """A notice about one subject as an entry of the digest it turns into."""
    item = {
        "clock": notice.clock_id,
        "title": _short(notice.title),
        "url": notice.url,
        "deal": notice.deal_id,
        "lead": notice.lead_id,
    }
    if notice.kind == Notice.Kind.REASSIGNED:
        # Told alone, its title says its side (`_reassigned`).
        item["side"] = GAINED if notice.title.startswith(NOW_YOURS) else LOST
    return item


def _subjects(items: list[dict[str, Any]]) -> set[tuple[str, int, str]]:
    """The deals and leads digest entries tell about, ("deal", id, side) or
    ("lead", id, side): subjects, not clocks, since one deal may have run out
    of a window and a limit; `side` is a reassignment's (GAINED or LOST),
    else ""."""
    subjects: set[tuple[str, int, str]] = set()
    for item in items:
        side = item.get("side", "")
        if item.get("deal") is not None:
            subjects.add(("deal", item["deal"], side))
        elif item.get("lead"):
            subjects.add(("lead", item["lead"], side))
    return subjects


def _kept(
    entries: list[dict[str, Any]], counted: int, added: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """A digest's entries to keep and the count of the rest, once `added`
    follow its `entries` kept and `counted` ones: the first DIGEST_LINES are
    kept, as the notices page and messages list them, a reassignment's
    grouped: what the person gained, then what was taken from them."""
    if counted:
        return entries, counted + len(added)
    entries = sorted(entries + added, key=lambda item: item.get("side") == LOST)
    return entries[:DIGEST_LINES], max(0, len(entries) - DIGEST_LINES)


def _what(subjects: set[tuple[str, int, str]]) -> str:
    """`subjects` counted: "2 deals and 1 lead"."""
    deals = sum(1 for kind, *_ in subjects if kind == "deal")
    leads = len(subjects) - deals
    return " and ".join(
        counted(count, noun)
        for count, noun in ((deals, "deal"), (leads, "lead"))
        if count
    )


def _digest_words(kind: str, subjects: set[tuple[str, int, str]]) -> tuple[str, str]:
    """Title and body of a digest of `kind` telling about `subjects`."""
    what = _what(subjects)
    if kind == Notice.Kind.ESCALATION:
        return (
            f"Escalated: {what} still not acted on",
            "Each ran out and one more window passed without action:",
        )
    if kind == Notice.Kind.REASSIGNED:
        return _reassigned_words(subjects)
    return (
        f"{what[0].upper()}{what[1:]} ran out of time",
        "Each has run past its window or limit:",
    )


def taken_over_escalation(clock: Clock) -> dt.datetime | None:
    """When the escalation of `clock`, a breached window a new owner took
    over (`TAKEN_OVER` in its actions, its `escalate_at` the takeover's
    instant), comes: at the end of the owner's own second window from the
    takeover, by the breach rule of the window's handoff, as the next sweep
    schedules it (`_Batch._plan_taken_over`); None when the rule schedules
    no escalation. For pages that show it at once, before that sweep. One
    query for the handoff; the pipeline must be loaded."""
    pipe = _pipe(clock.pipeline)
    keys = (
        Handoff.objects.filter(pk=clock.handoff_id)
        .values_list("from_stage__key", "to_stage__key")
        .first()
    )
    rule = pipe.rules.for_handoff(*keys) if keys else pipe.rules.default
    return _taken_over_window(
        rule, pipe.calendar, clock.escalate_at, clock.window_minutes
    )


def _taken_over_window(
    rule: rules.BreachRule,
    calendar: Calendar,
    taken_at: dt.datetime,
    window_minutes: float,
) -> dt.datetime | None:
    """`escalate_at` of a new owner's second window from `taken_at`, by
    `rule` (its `escalate_after`, else one more window), or None when the
    rule neither escalates nor reassigns."""
    if not rule.schedules_escalation:
        return None
    minutes = rule.escalate_after_minutes or window_minutes
    return _second_window(calendar, taken_at, minutes)


def _second_window(
    calendar: Calendar, start: dt.datetime, minutes: float
) -> dt.datetime:
    """`escalate_at` of a second window of `minutes` from `start`: its end as
    a late-after instant (the first working instant at or after it), since
    it escalates only once business time has passed beyond it."""
    return business_time.next_opening(
        calendar, business_time.add(calendar, start, minutes)
    )


def _reassigned_words(subjects: set[tuple[str, int, str]]) -> tuple[str, str]:
    """Title and body of a reassignment digest: what the person gained and
    what was taken from them, each counted, so that neither is mistaken for
    the other ("Now yours: 5 leads; taken from you: 7 leads")."""
    gained = {subject for subject in subjects if subject[2] == GAINED}
    lost = subjects - gained
    said = []
    if gained:
        said.append(f"{NOW_YOURS}: {_what(gained)}")
    if lost:
        said.append(f"{'taken' if gained else 'Taken'} from you: {_what(lost)}")
    why = f"Each was reassigned because its {REASSIGN_WHY}"
    if gained and lost:
        return "; ".join(said), f"{why}; those now yours first, then those taken:"
    return said[0], f"{why}:"


def _pipe(pipeline: Pipeline) -> _Pipe:
    calendar = calendar_for(pipeline)
    return _Pipe(_rules_for(pipeline, calendar.day_minutes), calendar)


def _rules_for(pipeline: Pipeline, day_minutes: float) -> rules.BreachRules:
    table = (pipeline.settings or {}).get("breach")
    try:
        return _parsed(json.dumps(table, sort_keys=True), day_minutes)
    except rules.BreachRuleError as exc:
        # The sweep must go on: the defaults act, and a person must fix the file.
        log.error(
            "pipeline %s: breach rules ignored, defaults used: %s", pipeline.key, exc
        )
        return rules.BreachRules()


@lru_cache(maxsize=64)
def _parsed(text: str, day_minutes: float) -> rules.BreachRules:
    return rules.parse_rules(json.loads(text), day_minutes)


def _elapsed(minutes: float, day_minutes: float) -> str:
    """Business time since a clock ran out, as an escalation says it: whole
    minutes under an hour, hours and minutes under a business day ("1
    business hour 19 minutes"), else whole days as `format_span` says them."""
    if minutes < 60 or minutes >= day_minutes:
        return format_span(minutes, day_minutes)
    hours, rest = divmod(int(minutes), 60)
    said = format_span(hours * 60, day_minutes)
    return f"{said} {counted(rest, 'minute')}" if rest else said
