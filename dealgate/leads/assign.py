"""The Django side of routing: rules from a pipeline, people from the
database, the rotation kept in `RoutingState`, windows in business time.

`route` must run inside the transaction that stores the lead: it locks each
rule's state row it consults (SELECT ... FOR UPDATE on PostgreSQL; SQLite
serialises writers with BEGIN IMMEDIATE), so parallel captures take turns
and no turn is given twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.transaction import TransactionManagementError

from dealgate.accounts.models import Team, User
from dealgate.clocks import bulk
from dealgate.core import business_time, routing
from dealgate.core.calendar import Calendar, CalendarError
from dealgate.errors import ValidationError
from dealgate.pipelines.calendars import (
    calendar_for,
    calendar_from_table,
    local_time,
)
from dealgate.pipelines.models import Handoff, Pipeline

from .dedup import status_literals
from .models import Availability, Lead, RoutingState

logger = logging.getLogger("dealgate.leads")

ROUTING_KEY = "routing"
DEFAULT_WINDOW_MINUTES = 15

_cache_lock = threading.Lock()
_rules_cache: dict[tuple[int, str], list[routing.Rule]] = {}
_CACHE_LIMIT = 256


@dataclass(frozen=True)
class Turn:
    """A rotation's state after a pick, to store in its (locked) row."""

    state_id: int
    state: dict[str, Any]
    at: dt.datetime

    def update(self) -> tuple[str, list[Any]]:
        """The UPDATE that stores it, with its parameters."""
        ops = connection.ops
        return _TURN_SQL, [
            ops.adapt_json_value(self.state, None),
            ops.adapt_datetimefield_value(self.at),
            self.state_id,
        ]


@dataclass(frozen=True)
class Routing:
    """Who a lead goes to, by which rule (name, "" for none) and why; with
    `route(..., defer_turn=True)`, the rotation's turn the caller stores."""

    owner: User | None
    rule: str
    reason: str
    turn: Turn | None = None


def rules_for(pipeline: Pipeline) -> list[routing.Rule]:
    """The pipeline's parsed routing rules (memoised per pipeline and text).

    Rules were checked when they were saved; a stored list that no longer
    parses raises ValidationError naming the problem.
    """
    raw = (pipeline.settings or {}).get(ROUTING_KEY) or []
    text = json.dumps(raw, sort_keys=True)
    key = (pipeline.pk, text)
    rules = _rules_cache.get(key)
    if rules is None:
        try:
            rules = routing.parse_rules(raw)
        except ValueError as exc:
            raise ValidationError(
                f"pipeline {pipeline.key}: {exc}", field="routing"
            ) from None
        with _cache_lock:
            if len(_rules_cache) >= _CACHE_LIMIT:
                _rules_cache.clear()
            _rules_cache[key] = rules
    return rules


def _person_calendar(table: dict[str, Any]) -> Calendar | None:
    """A person's working hours (their own, or the pipeline's); None for a
    table that is wrong, logged, so routing treats them as available rather
    than failing every capture."""
    try:
        return calendar_from_table(table)
    except CalendarError as exc:
        logger.warning("working hours cannot be read (%s); treated as open", exc)
        return None


def forget_cached() -> None:
    """Drop memoised rules and calendars, as a restarted process would have."""
    with _cache_lock:
        _rules_cache.clear()


def intake_window(pipeline: Pipeline) -> int:
    """Business minutes to answer a new lead: the window of the pipeline's
    handoff from a lead (no from-stage), else DEFAULT_WINDOW_MINUTES.

    Read once per Pipeline instance (`pipeline_for_capture` annotates it);
    a fresh instance reads it again, so a changed window shows on next load.
    """
    if not hasattr(pipeline, "intake_window"):
        # Kept on the instance: routing and the clocks ask for it per lead.
        pipeline.intake_window = (
            Handoff.objects.filter(pipeline=pipeline, from_stage__isnull=True)
            .order_by("to_stage__position")
            .values_list("response_window_minutes", flat=True)
            .first()
        )
    return pipeline.intake_window or DEFAULT_WINDOW_MINUTES


def intake_handoff_id(pipeline: Pipeline) -> int | None:
    """The id of the pipeline's handoff from a lead into its first stage (the
    one whose window `intake_window` gives), or None without one. Read once
    per Pipeline instance, like the window (`pipeline_for_capture` annotates
    both), so the response clock a capture starts needs no query for it."""
    if not hasattr(pipeline, "intake_handoff_id"):
        pipeline.intake_handoff_id = (
            Handoff.objects.filter(pipeline=pipeline, from_stage__isnull=True)
            .order_by("to_stage__position")
            .values_list("pk", flat=True)
            .first()
        )
    return pipeline.intake_handoff_id


def due_at(pipeline: Pipeline, start: dt.datetime) -> dt.datetime:
    """When an intake window starting at `start` ends, in business time."""
    due = business_time.add(calendar_for(pipeline), start, intake_window(pipeline))
    return due.astimezone(dt.UTC)


def route(
    pipeline: Pipeline,
    facts: dict[str, Any],
    now: dt.datetime,
    *,
    exclude: frozenset[int] = frozenset(),
    defer_turn: bool = False,
) -> Routing:
    """Choose the owner of a new lead with `facts` by the pipeline's rules.

    Tries each rule whose conditions hold, in order; a rule whose people are
    all off is passed over and the reason kept. Who is off is judged at
    `judged_at`: now, or the pipeline's next opening outside its hours.
    Query cost: one query for a rule's people (with a team rule's rotation
    state, locked), one for their open leads when a cap or least-loaded
    needs it, and one to store the rotation's turn. People in `exclude`
    (user ids: whoever had the lead before) are skipped like people who are
    off, except by a fallback rule.
    A team rule stores its rotation's turn at once, or with `defer_turn`
    returns it in `Routing.turn` for the caller to store in the same
    transaction (with the lead, in one statement: `bulk.insert_linked`).
    """
    rules = rules_for(pipeline)
    if not rules:
        return Routing(
            None,
            "",
            f"pipeline {pipeline.key} has no routing rules; waiting for a manager",
        )
    at, closed = judged_at(pipeline, now)
    passed_over = []
    for match in routing.matching(rules, facts):
        rule = match.rule
        chosen, said, turn = _choose(pipeline, rule, now, exclude, at)
        if chosen is not None:
            reason = f"{match.reason}. {said}"
            if passed_over:
                reason += ". Passed over: " + "; ".join(passed_over)
            # Said only of someone taken for the opening, not at work now.
            if (
                closed
                and not rule.fallback
                and off_reason(
                    chosen, now, 0, pipeline.calendar or {}, zone=_zone(pipeline)
                )
            ):
                reason += closed
            if turn is not None and not defer_turn:
                with bulk.prepared_cursor() as cursor:
                    cursor.execute(*turn.update())
                turn = None
            return Routing(chosen, rule.name, reason, turn)
        passed_over.append(f"{rule.label}: {said}")
    if not passed_over:
        return Routing(None, "", "no routing rule matches this lead")
    reason = "no rule could place the lead: " + "; ".join(passed_over)
    return Routing(None, "", reason + closed)


def judged_at(pipeline: Pipeline, now: dt.datetime) -> tuple[dt.datetime, str]:
    """When routing judges who is available for a lead arriving at `now`,
    and a sentence saying so when that is not now.

    While the pipeline's calendar is open, now. Outside its hours, its next
    opening, when the lead's response window starts to run: a lead that
    arrives at night or on a Sunday goes by the rules to whoever is at work
    when the firm opens, not to the fallback owner because everyone is off
    at that moment. Who is away, and people's own hours, are judged then.
    """
    try:
        calendar = calendar_for(pipeline)
    except CalendarError as exc:
        logger.warning("pipeline %s: calendar cannot be read (%s)", pipeline.key, exc)
        return now, ""
    opening = business_time.next_opening(calendar, now)
    if opening <= now:
        return now, ""
    said = (
        f". Outside the pipeline's working hours: availability as of its next "
        f"opening, {opening:%a %-d %b %H:%M} ({calendar.zone.key})"
    )
    return opening.astimezone(dt.UTC), said


def _choose(
    pipeline: Pipeline,
    rule: routing.Rule,
    now: dt.datetime,
    exclude: frozenset[int],
    at: dt.datetime,
) -> tuple[User | None, str, Turn | None]:
    """The person `rule` gives the lead to, judging who is off at `at`, why,
    and the rotation's turn to store (for a team); (None, why not, None)
    when nobody can take it."""
    # A rotation's row is read, and locked, with its people: one round trip.
    rotates = rule.target.kind == "team" and not rule.fallback
    people, held, state = _people(rule, pipeline.pk if rotates else None)
    if not people:
        return None, _nobody_active(rule.target), None
    if rule.fallback:
        chosen, said = _fallback(people, held)
        return chosen, said, None

    needs_load = rule.how == routing.LEAST_LOADED or any(
        _availability(p) is not None and _availability(p).capacity is not None
        for p in people
    )
    hours = pipeline.calendar or {}
    zone = _zone(pipeline)
    loads = _open_loads([p.pk for p in people]) if needs_load else {}
    candidates = [
        routing.Candidate(
            key=person.pk,
            name=person.display_name,
            weight=rule.weight_of(person.username),
            load=loads.get(person.pk, 0),
            off=BEING_DEACTIVATED
            if person.pk in held
            else "had this lead before"
            if person.pk in exclude
            else _off(person, now, at, loads.get(person.pk, 0), hours, zone),
        )
        for person in people
    ]
    if rule.target.kind == "user":
        person, candidate = people[0], candidates[0]
        if candidate.off:
            return None, f"{candidate.name} is off ({candidate.off})", None
        return person, f"to {candidate.name}", None

    state = state or _locked_state(pipeline, rule.name)
    picked = routing.pick(rule.how, candidates, state.state)
    passed = [*picked.skipped, *_not_active(rule, people)]
    skipped = f"; skipped {', '.join(passed)}" if passed else ""
    if picked.chosen is None:
        return None, f"nobody in {rule.target} is available{skipped}", None
    chosen = next(p for p in people if p.pk == picked.chosen.key)
    turn = Turn(state.pk, picked.state, now)
    return chosen, f"{rule.target}, {picked.reason}{skipped}", turn


def _fallback(people: list[User], held: frozenset[int]) -> tuple[User | None, str]:
    """Whom a fallback rule gives the lead to, and why: its first person,
    whatever their availability says, unless they are being deactivated
    (`held`); then the next, or nobody when all of them are."""
    free = [person for person in people if person.pk not in held]
    leaving = [p.display_name for p in people if p.pk in held]
    if not free:
        verb = "is" if len(leaving) == 1 else "are"
        return None, f"{', '.join(leaving)} {verb} off ({BEING_DEACTIVATED})"
    chosen = free[0]
    # People are in id order: those before the one chosen were skipped.
    skipped = [p.display_name for p in people if p.pk in held and p.pk < chosen.pk]
    said = f"fallback owner {chosen.display_name}"
    if skipped:
        said += f"; skipped {', '.join(skipped)} ({BEING_DEACTIVATED})"
    return chosen, said


def _not_active(rule: routing.Rule, people: list[User]) -> list[str]:
    """The people a list of people names who were not read as active, each
    with why: "carl (left)" for one who may no longer sign in, "(no such
    user)" for a name nobody has. A query only when someone is missing."""
    if rule.target.kind != "users":
        return []
    read = {person.username for person in people}
    missing = [name for name in rule.target.names if name not in read]
    if not missing:
        return []
    known = set(
        User.objects.filter(username__in=missing).values_list("username", flat=True)
    )
    return [
        f"{name} (left)" if name in known else f"{name} (no such user)"
        for name in missing
    ]


def _nobody_active(target: routing.Target) -> str:
    """Why a rule's target gives nobody to route to: for people named by
    username, which of them may no longer sign in and which do not exist;
    for a team, that none of its people is active. One query, made only
    when a rule found nobody."""
    if target.kind == "team":
        return f"{target} has no active people"
    found = dict(
        User.objects.filter(username__in=target.names).values_list(
            "username", "is_active"
        )
    )
    said = []
    for name in target.names:
        if name not in found:
            said.append(f"no user {name}")
        elif not found[name]:
            said.append(f"{name} is inactive (may no longer sign in)")
    return "; ".join(said) or f"{target} has no active people"


def _people(
    rule: routing.Rule, rotation_of: int | None = None
) -> tuple[list[User], frozenset[int], RoutingState | None]:
    """The active people of the rule's target, in id order, each with their
    availability (or its absence) already cached on them; the ids of those
    among them being deactivated now, whom the lead must pass over; and with
    `rotation_of` (a pipeline id), the rule's rotation state in that
    pipeline, locked as `_locked_state` locks it (None if it has no row yet).

    On PostgreSQL each person is locked FOR KEY SHARE, held to the end of
    the caller's transaction, which stores the lead: a deactivation's lock
    on the leaver (`accounts.handover.hold`, FOR UPDATE) conflicts with it,
    as with the check of every other door that gives someone work
    (`deals.services.check_still_active`). A routing that read someone first
    holds their deactivation, and its hand-over, until the lead is stored,
    and the hand-over then takes that lead too. One that comes during a
    deactivation does not wait for it (SKIP LOCKED): the leaver is read as
    held, unavailable for this lead, which goes to someone else by the same
    rules, or waits for an owner as a lead nobody can take does. A hand-over
    of someone with many deals takes seconds; waiting it out would answer
    the website's visitor that their lead was not received (the request's
    lock wait, WEB_DB_WAIT, ends first).

    Nothing else locks a user's row that way while they stay active: edits
    and sign-ins take FOR NO KEY UPDATE (usernames are never changed), and
    so does `accounts.services._keep_an_admin`; a row being deleted is the
    one other case, and that person is leaving too. No statement more than
    the read, where checking the chosen person afterwards would cost each
    capture one. SQLite serialises writers (BEGIN IMMEDIATE): nobody is held.

    Fixed SQL with only what routing reads; the rest of a user's fields load
    on first use, as with the ORM's only(). The ORM compiling this join
    (select_related with only) cost each capture about 0.6 ms of CPU, more
    than any other step of it.
    """
    if rule.target.kind == "team":
        join, where = _TEAM_JOIN, 't."name" = %s'
    else:
        join = ""
        where = 'u."username" IN ({})'.format(
            ", ".join(["%s"] * len(rule.target.names))
        )
    params: list[Any] = [True, *rule.target.names]
    rotation = ""
    if rotation_of is not None:
        rotation = _ROTATION_JOIN.format(lock=_state_lock())
        params = [rotation_of, rule.name, *params]
    postgresql = connection.vendor == "postgresql"
    sql = _PEOPLE_SQL.format(
        held=_HELD if postgresql else "FALSE",
        team_join=join,
        where=where,
        rotation=rotation,
        state_columns=f", {_STATE_COLUMNS}" if rotation else "",
    )
    rows = bulk.read(User, _PERSON_FIELDS, sql, params)
    people, held, state, split = [], set(), None, 1 + len(_AWAY_FIELDS)
    for person, rest in rows:
        away, rotated = rest[1:split], rest[split:]
        if rest[0]:
            held.add(person.pk)
        availability = None
        if away[0] is not None:
            availability = bulk.build(Availability, _AWAY_FIELDS, away)
        # What `person.availability` answers from now on, without a query.
        User.availability.related.set_cached_value(person, availability)
        people.append(person)
        if state is None and rotated and rotated[0] is not None:
            state = bulk.build(RoutingState, _STATE_FIELDS, rotated)
    return people, frozenset(held), state


_PERSON_FIELDS, _PERSON_COLUMNS = bulk.columns(
    User, "u", ["id", "username", "first_name", "last_name", "calendar"]
)
_AWAY_FIELDS, _AWAY_COLUMNS = bulk.columns(
    Availability, "a", ["id", "user_id", "away_from", "away_until", "capacity"]
)


def _people_sql() -> str:
    user, availability = User._meta.db_table, Availability._meta.db_table
    return (
        f"SELECT {_PERSON_COLUMNS}, {{held}}, {_AWAY_COLUMNS}{{state_columns}} "
        f'FROM "{user}" u{{team_join}} '
        f'LEFT OUTER JOIN "{availability}" a ON a."user_id" = u."id"{{rotation}} '
        'WHERE u."is_active" = %s AND {where} ORDER BY u."id"'
    )


_PEOPLE_SQL = _people_sql()
# Whether the person is held, on PostgreSQL: locks them FOR KEY SHARE, the
# lock a foreign key's check takes, to the end of the transaction (see
# `_people`), or finds them locked by a deactivation and does not wait.
# Their row is read again under the lock (PostgreSQL rereads a row updated
# since the statement began), so one deactivated just now counts as held.
_HELD = (
    f'NOT EXISTS (SELECT 1 FROM "{User._meta.db_table}" k '
    'WHERE k."id" = u."id" AND k."is_active" FOR KEY SHARE SKIP LOCKED)'
)
# What routing says of someone it found held.
BEING_DEACTIVATED = "being deactivated"
_TEAM_JOIN = f' INNER JOIN "{Team._meta.db_table}" t ON t."id" = u."team_id"'


def _availability(person: User) -> Availability | None:
    try:
        return person.availability
    except Availability.DoesNotExist:
        return None


def _open_loads(user_ids: list[int]) -> dict[int, int]:
    """Open leads per person. COUNT(*), not COUNT(id): the (owner, status)
    index answers it alone, where counting ids visited a table page per
    open lead (44 ms against 0.5 ms for six people with 2,500 open leads on
    PostgreSQL). Fixed SQL with the statuses written in, on a prepared
    cursor: a least-loaded rule runs it for every lead it routes."""
    if not user_ids:
        return {}
    marks = ", ".join(["%s"] * len(user_ids))
    sql = (
        f'SELECT "owner_id", COUNT(*) FROM "{Lead._meta.db_table}" '
        f'WHERE "owner_id" IN ({marks}) '
        f'AND "status" IN ({status_literals(Lead.OPEN)}) '
        'GROUP BY "owner_id"'
    )
    with bulk.prepared_cursor() as cursor:
        cursor.execute(sql, user_ids)
        return dict(cursor.fetchall())


def _off(
    person: User,
    now: dt.datetime,
    at: dt.datetime,
    load: int,
    hours: dict[str, Any] | None,
    zone: str,
) -> str:
    """Why `person` cannot take a new lead: off now and, when the pipeline is
    closed (`at`, its next opening, is later), off then too. Someone at work
    now in their own hours (a colleague in another zone) takes it now;
    someone back by the opening takes it then."""
    reason = off_reason(person, now, load, hours, zone=zone)
    if reason and at > now:
        reason = off_reason(person, at, load, hours, zone=zone)
    return reason


def _zone(pipeline: Pipeline) -> str:
    """The zone a routing reason tells times in: the pipeline's, as its lead
    pages show them."""
    return calendar_for(pipeline).timezone


def off_reason(
    person: User,
    now: dt.datetime,
    load: int,
    hours: dict[str, Any] | None = None,
    *,
    zone: str = "UTC",
) -> str:
    """Why `person` cannot take a new lead at `now`; "" when they can.

    Away (between `away_from` and `away_until`), at their cap of open leads,
    or outside their working hours: their own calendar, else `hours` (the
    pipeline's calendar), else hours do not limit them. When they are back
    is told in `zone` (the pipeline's), which it names.
    """
    availability = _availability(person)
    if availability is not None:
        away_from, away_until = availability.away_from, availability.away_until
        if (
            away_until is not None
            and now < away_until
            and (away_from is None or away_from <= now)
        ):
            return f"away until {local_time(away_until, zone)}"
        if availability.capacity is not None and load >= availability.capacity:
            return f"at capacity ({load} of {availability.capacity} open leads)"
    table = person.calendar or hours
    calendar = _person_calendar(table) if table else None
    if calendar is not None and not business_time.is_open(calendar, now):
        own = "their" if person.calendar else "the pipeline's"
        return f"outside {own} working hours"
    return ""


def _locked_state(pipeline: Pipeline, rule: str) -> RoutingState:
    """The rule's state row, locked until the transaction ends; created on
    first use without a race (INSERT ... ON CONFLICT DO NOTHING). Routing
    reads and locks an existing row with the rule's people (`_people`).

    The lock is held until the commit, across the lead's writes: every
    capture by this rule waits for it. Its read and `Turn.update` are fixed
    SQL, which spends less CPU inside the lock than the ORM compiling them.
    """
    state = _read_state(pipeline.pk, rule)
    if state is None:
        RoutingState.objects.bulk_create(
            [RoutingState(pipeline=pipeline, rule=rule)], ignore_conflicts=True
        )
        state = _read_state(pipeline.pk, rule)
    return state


def _read_state(pipeline_id: int, rule: str) -> RoutingState | None:
    rows = bulk.read(
        RoutingState,
        _STATE_FIELDS,
        f"{_STATE_SQL}{_state_lock()}",
        [pipeline_id, rule],
    )
    return rows[0][0] if rows else None


def _state_lock() -> str:
    """FOR UPDATE where the database has it (SQLite's BEGIN IMMEDIATE
    serialises writers instead)."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    if lock and connection.get_autocommit():
        # A lock outside a transaction ends with the statement: no turn
        # would be safe. The ORM's select_for_update refuses the same way.
        raise TransactionManagementError("routing must run inside a transaction")
    return lock


_STATE_FIELDS, _STATE_COLUMNS = bulk.columns(RoutingState, "s")
_STATE_SQL = (
    f'SELECT {_STATE_COLUMNS} FROM "{RoutingState._meta.db_table}" s '
    'WHERE s."pipeline_id" = %s AND s."rule" = %s'
)
# The rotation's row beside each person (FOR UPDATE in a sub-SELECT locks it
# and reads its newest version once the lock is had).
_ROTATION_JOIN = f" LEFT OUTER JOIN ({_STATE_SQL}{{lock}}) s ON TRUE"


_TURN_SQL = (
    f'UPDATE "{RoutingState._meta.db_table}" SET "state" = %s, '
    '"turns" = "turns" + 1, "updated_at" = %s WHERE "id" = %s'
)
