"""The work a person still holds, and handing it to a successor when they leave.

A person who may no longer sign in acts on nothing: their open deals, the
leads waiting on them, their running clocks and open tasks would miss their
windows with nobody told. `services.change_user` therefore refuses to
deactivate someone who holds any of these unless a successor is named, and
then hands everything over in the same transaction through the services an
ordinary change uses: `update_deal` for a deal's owner (its responsible
person and running clocks follow, its version goes up, the change is
logged), `hand_over_lead` for a lead (an assignment by hand, its response
window keeping its due time). A team they lead goes to the successor when
the successor may lead it (`team_successor`). Closed deals and leads keep
whom they closed with: that is history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial

from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet

from dealgate.clocks import notices
from dealgate.clocks import services as clocks
from dealgate.clocks.models import Clock
from dealgate.core import routing
from dealgate.deals import services as deals
from dealgate.deals.models import Activity, Deal
from dealgate.errors import ValidationError
from dealgate.leads import services as leads
from dealgate.leads.assign import ROUTING_KEY
from dealgate.leads.models import Lead, LeadActivity
from dealgate.pipelines.models import Pipeline, Stage

from .models import Team, User
from .teams import make_lead

log = logging.getLogger("dealgate.accounts")


@dataclass(frozen=True)
class Holdings:
    """What a person holds, counted per kind."""

    deals: int = 0  # open deals they own
    responsible: int = 0  # open deals of others they must move on
    leads: int = 0  # open leads they own
    clocks: int = 0  # clocks running, or run out and not put right
    tasks: int = 0  # open tasks on their deals and leads
    # Names of the teams they led that their successor now leads (filled by
    # `hand_over`; a team led is no work that keeps someone from leaving)
    teams: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        counted = (self.deals, self.responsible, self.leads, self.clocks, self.tasks)
        return any(counted) or bool(self.teams)

    def __str__(self) -> str:
        parts = [
            _count(self.deals, "open deal"),
            _count(self.responsible, "open deal of others they are responsible for"),
            _count(self.leads, "open lead"),
            _count(self.clocks, "running or overdue clock"),
            _count(self.tasks, "open task"),
            _teams(self.teams),
        ]
        named = [part for part in parts if part]
        if len(named) < 2:
            return "".join(named) or "nothing"
        return f"{', '.join(named[:-1])} and {named[-1]}"


def _teams(names: tuple[str, ...]) -> str:
    if not names:
        return ""
    noun = "team" if len(names) == 1 else "teams"
    return f"the lead of {noun} {', '.join(names)}"


def _count(number: int, noun: str) -> str:
    if not number:
        return ""
    head, _, tail = noun.partition(" of ")
    plural = head if number == 1 else head + "s"
    return f"{number:,} {plural}" + (f" of {tail}" if tail else "")


def holdings_of(person: User) -> Holdings:
    """What `person` holds now (five counting queries)."""
    mine = Q(responsible=person) | Q(responsible__isnull=True, owner=person)
    open_deals = Deal.objects.filter(status=Deal.Status.OPEN)
    deal_tasks = Activity.objects.filter(
        kind=Activity.Kind.TASK, done=False, deal__in=open_deals.filter(mine)
    )
    lead_tasks = LeadActivity.objects.filter(
        kind=LeadActivity.Kind.TASK,
        done=False,
        lead__status__in=Lead.OPEN,
        lead__owner=person,
    )
    return Holdings(
        deals=open_deals.filter(owner=person).count(),
        responsible=open_deals.filter(responsible=person).exclude(owner=person).count(),
        leads=Lead.objects.filter(status__in=Lead.OPEN, owner=person).count(),
        clocks=Clock.objects.filter(responsible=person, is_open=True).count(),
        tasks=deal_tasks.count() + lead_tasks.count(),
    )


class HandOverNeeded(ValidationError):
    """A person who still holds work was to be deactivated without a
    successor. `held` says what they hold; the message how to hand it over
    from the command line (the admin's form words it for its own field)."""

    def __init__(self, person: User, held: Holdings) -> None:
        super().__init__(
            f"hand_to: {person.username} still holds {held}; name who takes "
            f"them over: dealgate user set {person.username} --inactive "
            "--hand-to USERNAME",
            field="hand_to",
        )
        self.username = person.username
        self.held = held


def check_successor(person: User, successor: User, *, field: str) -> None:
    """Refuse a successor who could not own the work: the person themselves,
    or someone who may not sign in (as a deal's new owner and a lead's hand
    assignment are refused)."""
    if successor.pk == person.pk:
        raise ValidationError(
            f"{field}: {person.username} cannot hand their work to themselves",
            field=field,
        )
    if not successor.is_active:
        raise ValidationError(
            f"{field}: {successor.username} may not sign in any more; choose "
            "someone active",
            field=field,
        )


def hand_over(person: User, successor: User, *, by: User | None) -> Holdings:
    """Give everything `person` holds to `successor`; returns what moved.

    Must run inside the caller's transaction (a refusal of any one deal or
    lead undoes all). Open deals they own get `successor` as owner through
    `update_deal`; open deals of others they must move on, `successor` as
    the responsible person; open leads they own are handed over; last, any
    clock still theirs (a handoff that names them) becomes `successor`'s.
    Tasks follow their deal or lead. Rows are locked in id order.

    New work cannot land on `person` meanwhile: the caller has locked their
    row with `hold` (called again here for a caller that has not), and
    every door that gives someone work refuses a person whom it finds
    inactive once it has written (`deals.check_still_active`)."""
    hold(person)
    held = holdings_of(person)
    overdue = notices.overdue_of(person)
    owned = list(
        Deal.objects.select_for_update()
        .filter(status=Deal.Status.OPEN, owner=person)
        .order_by("pk")
        .values_list("pk", "version")
    )
    for deal_id, version in owned:
        deals.update_deal(
            deal_id, {"owner_id": successor.pk}, by=by, expected_version=version
        )
    responsible = (
        Deal.objects.filter(status=Deal.Status.OPEN, responsible=person)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for deal_id in list(responsible):
        deals.hand_over_responsibility(deal_id, person, successor, by=by)
    open_leads = Lead.objects.filter(status__in=Lead.OPEN, owner=person)
    note = f"{person.username} left; their work went to {successor.username}"
    for lead_id in list(open_leads.order_by("pk").values_list("pk", flat=True)):
        leads.hand_over_lead(lead_id, successor, by=by, note=note)
    clocks.person_replaced(person.pk, successor.pk)
    notices.tell_inherited(overdue, person, successor)
    teams = _hand_over_teams(person, successor)
    held = replace(held, teams=teams)
    transaction.on_commit(
        partial(
            log.info,
            "work of %s handed over to %s by %s: %s",
            person.username,
            successor.username,
            by.username if by else "system",
            held,
        )
    )
    return held


def hold(person: User) -> None:
    """Lock `person`'s row (SELECT ... FOR UPDATE) to the end of the
    caller's transaction, which deactivates them: call it before their row
    is written (an update that sets only is_active takes a weaker lock,
    which the doors' FOR KEY SHARE passes, and a FOR UPDATE taken after it
    locks only the new row version) and before reading what they hold.

    On PostgreSQL every door that gives someone work reads them FOR KEY
    SHARE once it has written (`deals.check_still_active`), which this lock
    conflicts with: a write made before holds the hand-over until it
    commits, and is handed over too; a write made after waits for the
    deactivation to commit, then reads it and is refused. Routing a lead by
    the rules does not wait: it passes a person so locked over at once
    (`leads.assign._people`, SKIP LOCKED), so nothing but a deactivation
    may lock a user's row FOR UPDATE while they are active. Their open deals,
    leads and clocks are locked first (`_lock_all`), then their row.
    SQLite serialises writers already."""
    if connection.vendor != "postgresql":
        return
    mine = Q(owner=person) | Q(responsible=person)
    _lock_all(
        (
            Deal.objects.filter(mine, status=Deal.Status.OPEN),
            Lead.objects.filter(status__in=Lead.OPEN, owner=person),
            Clock.objects.filter(responsible=person, is_open=True),
        )
    )
    list(User.objects.select_for_update().filter(pk=person.pk).values_list("pk"))


def _lock_all(queries: tuple[QuerySet, ...]) -> None:
    """Lock every row of `queries` (deals, leads, clocks), or wait holding
    none of them.

    No one order of a lead (or deal) and its clock suits every writer: a
    change of a lead locks the lead and then writes its clock, while the
    sweep claims clocks first and then locks their deals and leads (with
    SKIP LOCKED, leaving busy ones to its next run: clocks.sweep). Taking
    them in either order, the hand-over could hold one while
    waiting for the other, held by a writer waiting for the first: a
    deadlock PostgreSQL breaks by failing one of them. So each pass takes
    them all with NOWAIT in a savepoint; when a row is busy, the savepoint
    lets go of what it took, the pass waits for that query's rows alone
    (in a savepoint rolled back at once: it only waits for their holder to
    finish) and tries again. Each retry follows a writer's commit, so it
    ends. Must run before the caller's transaction holds other locks a
    writer of these rows could wait for."""
    while True:
        busy = queries[0]
        try:
            with transaction.atomic():
                for query in queries:
                    busy = query
                    list(_locked(query, nowait=True))
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
        with transaction.atomic():
            list(_locked(busy, nowait=False))
            transaction.set_rollback(True)


# PostgreSQL's error code for a row NOWAIT found locked.
LOCK_NOT_AVAILABLE = "55P03"


def _locked(query: QuerySet, *, nowait: bool) -> QuerySet:
    return (
        query.select_for_update(of=("self",), nowait=nowait)
        .order_by("pk")
        .values_list("pk")
    )


def team_successor(team: Team, successor: User) -> str:
    """Why `successor` may not take over leading `team` from someone who
    leaves, or "" when they may: a team's manager is an active manager or
    admin (a rep is not), and leads one team at a time, so one who already
    leads another keeps theirs (one query)."""
    if successor.role == User.Role.REP:
        return f"{successor.username} is a rep"
    other = (
        Team.objects.filter(manager=successor)
        .exclude(pk=team.pk)
        .values_list("name", flat=True)
        .first()
    )
    if other is not None:
        return f"{successor.username} already leads team {other}"
    return ""


def _hand_over_teams(person: User, successor: User) -> tuple[str, ...]:
    """Give `successor` the teams `person` leads, where they may lead them
    (`team_successor`): they join the team and lead it, as `team set
    --manager` makes them. Returns the names of the teams they took; those
    left are for the caller, which leaves them without a manager."""
    taken = []
    for team in (
        Team.objects.select_for_update().filter(manager=person).order_by("name")
    ):
        if team_successor(team, successor):
            continue
        make_lead(team, successor)
        taken.append(team.name)
        log.info(
            "team %s: led by %s now, in place of %s",
            team.name,
            successor.username,
            person.username,
        )
    return tuple(taken)


def stages_owned_by(person: User) -> list[str]:
    """What to say of the live stages `person` owns: while they are
    inactive, a deal that enters one goes to its own owner instead
    (`deals.services.Responsible`), until the stage gets another owner in
    the builder or the pipeline file (one query)."""
    stages = (
        Stage.objects.filter(owner_user=person, retired_at__isnull=True)
        .select_related("pipeline")
        .order_by("pipeline_id", "position")
    )
    return [
        f"stage {stage.name!r} of pipeline {stage.pipeline.key} is still owned "
        f"by {person.username}: while they are inactive, deals entering it go "
        "to their own owners; give it another owner in the builder or the "
        "pipeline file"
        for stage in stages
    ]


def rules_naming(person: User) -> list[str]:
    """What to say of the routing rules that name `person` by username: while
    they are inactive routing skips them, saying "(left)", and `pipeline
    apply` refuses a file that still names them. Says who takes the rule's
    leads now. One query for the pipelines, one per rule naming them."""
    said = []
    for pipeline in Pipeline.objects.exclude(settings={}).order_by("key"):
        try:
            rules = routing.parse_rules((pipeline.settings or {}).get(ROUTING_KEY))
        except ValueError:
            continue  # stored rules were checked when saved; none to read here
        for rule in rules:
            if rule.target.kind == "team" or person.username not in rule.target.names:
                continue
            said.append(
                f"routing rule {rule.name!r} (routing[{rule.index}]) of pipeline "
                f"{pipeline.key} names {person.username}: {_routed_now(rule, person)}; "
                "name someone active in its [[routing]] table (pipeline apply "
                f"refuses the file while it names {person.username})"
            )
    return said


def _routed_now(rule: routing.Rule, person: User) -> str:
    """Where the rule's leads go while `person` is inactive, in words."""
    others = list(
        User.objects.filter(username__in=rule.target.names, is_active=True)
        .exclude(pk=person.pk)
        .order_by("pk")
        .values_list("username", flat=True)
    )
    if others:
        return (
            "while they are inactive, routing skips them and gives its leads "
            f"to {', '.join(others)}"
        )
    if rule.fallback:
        return (
            "while they are inactive, this fallback places no lead: a lead no "
            "other rule places waits for an owner"
        )
    return (
        "while they are inactive, routing passes this rule over: its leads go "
        "to the next rule that matches, or wait for an owner"
    )


def still_named_by(person: User) -> list[str]:
    """What still names `person` and gives them no work while they are
    inactive: stages they own (`stages_owned_by`) and routing rules
    (`rules_naming`)."""
    return stages_owned_by(person) + rules_naming(person)


def left_words(viewer: User, username: str) -> tuple[str, str, str] | None:
    """What a page of one person's work (Today's `?person=`) says, as an
    error page's (title, heading, text), when `username` names someone who
    has left and whom `viewer` would see were they active (an admin anyone,
    a manager the people of their teams): that they are inactive, what they
    still hold and how an admin hands it over. None otherwise, so such a
    page says no one has the name, as for anyone it does not show: it tells
    nobody of people outside their view."""
    left = User.objects.filter(username=username, is_active=False)
    if viewer.role != User.Role.ADMIN:
        if not viewer.is_manager:
            return None
        left = left.filter(team__manager=viewer)
    person = left.first()
    if person is None:
        return None
    text = (
        "Their account is inactive: they may no longer sign in, and no page "
        "lists work as theirs."
    )
    held = holdings_of(person)
    if held:
        text += (
            f" They still hold {held}. An admin hands it over to someone active "
            "on their page under People (Hand over to), or with: dealgate user "
            f"set {person.username} --hand-to USERNAME."
        )
    else:
        text += " They hold no open work."
    heading = f"{person.display_name} ({person.username}) has left"
    return ("Left", heading, text)
