"""Operations that change a deal. Every door (board, deal page, API, CLI, live
imports) calls these, so the rules hold the same way everywhere.

Verbs keep fixed meanings: `move_deal` and `update_deal` validate, then change
and record; `check_move` only tells what a move would need.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.clocks import services as clocks
from dealgate.core import business_time
from dealgate.core import criteria as crit
from dealgate.core.checklist import (
    CHECKLIST_KEY_LIMIT as CHECKLIST_KEY_LIMIT,  # still importable from here
)
from dealgate.core.checklist import (
    MOST_CHECKLIST_ITEMS,
    items_in_rule,
    items_in_rules,
)
from dealgate.core.checklist import check_key as check_checklist_key
from dealgate.core.currencies import (
    STORED_PLACES,
    check_decimals,
    currency_problem,
    iso_currency,
)
from dealgate.core.custom_fields import (
    CustomValueError,
    checked_values,
    declared_fields,
    set_values,
)
from dealgate.core.dates import years_problem
from dealgate.core.names import name_key, tidy_name
from dealgate.core.numbers import MAX_AMOUNT, too_large, too_small
from dealgate.core.text import (
    CONTROL_OR_BREAK,
    blank_problem,
    check_text,
    cut,
    holds_nul,
    looks_blank,
    optional_text,
    required_text,
)
from dealgate.errors import Conflict, NotFound, PermissionDenied, ValidationError
from dealgate.leads.versions import task_doer
from dealgate.pipelines.calendars import calendar_for, local_time
from dealgate.pipelines.loss_reasons import LossReasons
from dealgate.pipelines.models import (
    Layout,
    Pipeline,
    Stage,
    active_stages,
    layout_for,
)

from .models import (
    TEXT_LIMITS,
    Activity,
    Deal,
    Organization,
    Person,
    Product,
    StageEvent,
)
from .stamps import stamp

log = logging.getLogger("dealgate.deals")

WON = "won"
LOST = "lost"


class MoveRefused(ValidationError):
    """The gates of a move are not met; `unmet` lists them in words."""

    code = "move_refused"

    def __init__(
        self, message: str, unmet: list[str], *, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.unmet = unmet

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "unmet": self.unmet}


@dataclass
class MoveCheck:
    """What a move needs: the criteria it evaluated, in words, and whether they
    hold. `problems` are refusals that no override lifts (a missing reason)."""

    kind: str
    # (stage name or "won", "exit" / "entry" / "won", the evaluation)
    evaluations: list[tuple[str, str, crit.Evaluation]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # A move to lost: the key of the reason given by key or label, else "".
    loss_reason: str = ""
    # The field the first of `problems` is about, when not the move's own.
    problem_field: str = ""

    @property
    def unmet(self) -> list[str]:
        return [
            crit.refusal_message(evaluation, title, kind).removeprefix("Refused: ")
            for title, kind, evaluation in self.evaluations
            if not evaluation.passed
        ]


def criteria_set(data: Any) -> crit.CriteriaSet:
    """Read criteria as stored on a stage or pipeline: a list of {label, rule},
    or {"mode": "all"|"any", "items": [...]}."""
    if isinstance(data, dict):
        mode, items = data.get("mode", "all"), data.get("items", [])
    else:
        mode, items = "all", data or []
    return crit.CriteriaSet(
        mode=mode, items=[crit.Criterion(i["label"], i["rule"]) for i in items]
    )


def context_for(
    deal: Deal, now: dt.datetime, *, rules: Iterable[str] | None = None
) -> dict[str, Any]:
    """The values criteria read for `deal`.

    The activities are those people logged (`Activity.LOGGED`), never a
    system record. Costs a query for them and one for each of its owner,
    organization, contact and product not loaded yet. Given the `rules` that
    will read it, only what one of them can read is fetched; the rest is left
    empty.

    Every checklist item the pipeline's rules name is in the checklist,
    false unless the deal ticked it: given `rules` (the pipeline's rules about
    to be checked), the items they name; else every item `checklist_items`
    finds. So every door that checks a rule (a move from the board, the deal
    page, the API or the command line, the deal page's checklist) reads an
    item the deal never saved as not ticked, never as missing.
    """
    rules = list(rules) if rules is not None else None
    reads = _reads(rules) if rules is not None else _EVERYTHING
    pipeline = deal.pipeline
    zone = calendar_for(pipeline).zone
    activities = []
    if "activities" in reads:
        # What people logged: a record Dealgate wrote itself (a redesign's)
        # is no call, note or anything a rule may count.
        found = Activity.objects.filter(deal=deal, kind__in=Activity.LOGGED)
        activities = list(found.values("kind", "tag", "done", "at"))
    people = "people" in reads
    return crit.deal_context(
        title=deal.title,
        value=deal.value,
        currency=deal.currency,
        status=deal.status,
        stage=deal.stage.key,
        owner=deal.owner.username if people and deal.owner else None,
        organization=deal.organization.name if people and deal.organization else None,
        contact=deal.contact.name if people and deal.contact else None,
        product=deal.product.name if people and deal.product else None,
        expected_close_date=deal.expected_close_date,
        created_at=deal.created_at,
        stage_entered_at=deal.stage_entered_at,
        now=now,
        timezone=zone,
        custom=deal.custom,
        custom_fields={f["key"]: f.get("type", "text") for f in pipeline.custom_fields},
        activities=activities,
        checklist=deal.checklist,
        checklist_items=items_in_rules(rules)
        if rules is not None
        else checklist_items(pipeline),
    )


_EVERYTHING = frozenset({"activities", "people"})
_PEOPLE = frozenset({"owner", "organization", "contact", "product"})
# `deal`, and the field read from it if one follows.
_DEAL_ROOT = re.compile(r"(?<!\w)deal\b(?:\s*\.\s*([A-Za-z_]\w*))?")


def _reads(rules: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(_rule_reads(rule) for rule in rules))


@lru_cache(maxsize=2048)
def _rule_reads(rule: str) -> frozenset[str]:
    """The parts of a deal's context that cost a query and that `rule` can
    read: "activities" (the list, or through held()) and "people" (the names
    of the owner, organization, contact and product).

    Errs towards reading: any `deal` in the text that is not `deal.FIELD`
    with another field counts, even one inside a string. A rule that does
    not compile reads nothing: it is unmet whatever the context holds.
    """
    try:
        compiled = crit.compile_rule(rule)
    except crit.RuleError:
        return frozenset()
    reads = set()
    functions = compiled.program.references()["functions"]
    if "activities" in compiled.names or "held" in functions:
        reads.add("activities")
    if "deal" in compiled.names and any(
        found.group(1) is None or found.group(1) in _PEOPLE
        for found in _DEAL_ROOT.finditer(rule)
    ):
        reads.add("people")
    return frozenset(reads)


@dataclass(frozen=True)
class ChecklistLine:
    """One exit criterion of the deal's stage, in words, and whether it holds."""

    text: str  # "✓ Budget confirmed", from `criteria.describe`
    met: bool


def exit_checklist(deal: Deal, now: dt.datetime) -> list[ChecklistLine]:
    """The current stage's exit criteria for `deal`, each met or not.

    Empty for a closed deal: it is in no stage it has to leave.
    """
    wanted = criteria_set(deal.stage.exit_criteria)
    if deal.status != Deal.Status.OPEN or not wanted.items:
        return []
    rules = [criterion.rule for criterion in wanted.items]
    evaluation = crit.evaluate(wanted, context_for(deal, now, rules=rules))
    return [
        ChecklistLine(text=text, met=result.met)
        for text, result in zip(
            crit.describe(evaluation), evaluation.results, strict=True
        )
    ]


def checklist_items(pipeline: Pipeline) -> list[str]:
    """The checklist items the pipeline's rules read, in order of first use."""
    sets = [pipeline.won_criteria]
    for stage in active_stages(pipeline):
        sets += [stage.entry_criteria, stage.exit_criteria]
    found: dict[str, None] = {}
    for data in sets:
        for criterion in criteria_set(data).items:
            for item in items_in_rule(criterion.rule):
                found.setdefault(item)
    return list(found)


def check_move(
    deal: Deal,
    to: str,
    *,
    now: dt.datetime,
    loss_reason: str = "",
    loss_note: str = "",
    stages: list[Stage] | None = None,
) -> MoveCheck:
    """Evaluate the gates for moving `deal` to stage key `to`, or "won"/"lost".

    Forward moves need the current stage's exit criteria, those of every stage
    jumped over (unless the pipeline allows skipping) and the target's entry
    criteria; so does reopening a closed deal into a stage after the one it
    closed from. Backward moves and other reopenings need nothing. Won is a
    forward move past the last open stage: it needs the same exit criteria,
    of the deal's stage and of every open stage after it, and then the
    pipeline's won criteria. Lost needs a listed reason, by key or label
    (`pipelines.loss_reasons`; the check keeps its key), and a note when the
    reason asks for one, from any open stage; a pipeline that lists no reason
    needs the note instead. A won deal is lost only once
    reopened: won to lost directly is refused, saying so. A lost deal may be
    won directly, through the gates of the stage it was lost from.
    """
    pipeline = deal.pipeline
    stages = stages or list(active_stages(pipeline))
    by_key = {stage.key: stage for stage in stages}
    check = MoveCheck(kind="")
    if to == LOST:
        check.kind = "lost"
        if deal.status == Deal.Status.WON:
            # Losing a win is two decisions, each on the record: reopening
            # it, then losing it.
            check.problems.append(
                f"deal {deal.pk} is won; reopen it first by moving it to a "
                "stage, then mark it lost"
            )
            check.problem_field = "to"
            return check
        reasons = LossReasons.of(pipeline.loss_reasons)
        key = reasons.key_for(loss_reason)
        if not reasons:
            unlisted = reasons.unlisted_problem(loss_reason, loss_note)
            if unlisted is not None:
                check.problems.append(unlisted[0])
                check.problem_field = unlisted[1]
        elif not loss_reason.strip():
            check.problems.append("a lost deal needs a loss reason")
        elif key is None:
            check.problems.append(
                f"loss reason {cut(loss_reason, 100)!r} is not in this pipeline's "
                f"list; give a key or a label: {reasons.listed()}"
            )
        elif reasons.needs_note(key) and looks_blank(loss_note):
            missing = f"loss reason {key!r} needs a note saying what happened"
            check.problems.append(
                blank_problem(loss_note, "loss_note", missing=missing) or missing
            )
            check.problem_field = "loss_note"
        check.loss_reason = key or ""
        if deal.status == Deal.Status.LOST:
            check.problems.append("the deal is already lost")
        return check
    if to == WON:
        check.kind = "won"
        if deal.status == Deal.Status.WON:
            check.problems.append("the deal is already won")
            return check
        # A lost deal keeps the stage it closed from and wins from there.
        gates = _leaving_gates(pipeline, deal.stage, stages, None)
        gates.append((pipeline.name, "won", pipeline.won_criteria))
        _evaluate(check, deal, now, gates)
        return check

    target = by_key.get(to)
    if target is None:
        raise ValidationError(
            f"pipeline {pipeline.key!r} has no stage {to!r}", field="to"
        )
    # A closed deal keeps the stage it closed from: reopening it into a
    # later stage passes the same gates as moving forward from there.
    current = deal.stage
    reopening = deal.status != Deal.Status.OPEN
    if reopening:
        check.kind = "reopen"
        if target.position <= current.position:
            return check
    elif target.position == current.position:
        check.kind = "none"
        check.problems.append(f"the deal is already in '{current.name}'")
        return check
    elif target.position < current.position:
        check.kind = "backward"
        return check
    else:
        check.kind = "forward"
    gates = _leaving_gates(pipeline, current, stages, target)
    gates.append((target.name, "entry", target.entry_criteria))
    _evaluate(check, deal, now, gates)
    return check


def _leaving_gates(
    pipeline: Pipeline, current: Stage, stages: list[Stage], target: Stage | None
) -> list[tuple[str, str, Any]]:
    """The exit gates of a forward move from `current` to `target`, or past
    the last open stage when `target` is None (a win): `current`'s exit
    criteria, and, unless the pipeline allows skipping, those of every open
    stage jumped over."""
    gates = [(current.name, "exit", current.exit_criteria)]
    if not pipeline.allow_skipping:
        gates += [
            (stage.name, "exit", stage.exit_criteria)
            for stage in stages
            if current.position < stage.position
            and (target is None or stage.position < target.position)
        ]
    return gates


def _evaluate(
    check: MoveCheck, deal: Deal, now: dt.datetime, gates: list[tuple[str, str, Any]]
) -> None:
    """Evaluate each gate (title, kind, criteria as stored) that has criteria,
    all against one context of `deal` holding what their rules can read."""
    wanted = [(title, kind, criteria_set(data)) for title, kind, data in gates]
    wanted = [gate for gate in wanted if gate[2].items]
    if not wanted:
        return
    rules = [criterion.rule for _, _, found in wanted for criterion in found.items]
    context = context_for(deal, now, rules=rules)
    for title, kind, criteria in wanted:
        check.evaluations.append((title, kind, crit.evaluate(criteria, context)))


def _who(by: User | None) -> str:
    return by.username if by else "system"


def check_may_change(
    user: User | None, deal: Deal, *, managed: AbstractSet[int] | None = None
) -> None:
    """Refuse unless `user` may change `deal`: an admin any deal; a manager
    their own and their teams' members' deals; a rep the deals they own or
    are responsible for, and unowned ones. `None` is the system (sweeper,
    imports) and may change anything.

    A manager's teams are read with one query per call, unless `managed`
    gives them: `managed_people(user)`, read once for many deals (a page of
    them), so that asking of each costs no query."""
    if user is None or user.role == User.Role.ADMIN:
        return
    people = {deal.owner_id, deal.responsible_id} - {None}
    if user.pk in people or deal.owner_id is None:
        return
    if user.is_manager:
        if managed is None:
            found = User.objects.filter(team__manager=user, pk__in=people).exists()
        else:
            found = not people.isdisjoint(managed)
        if found:
            return
    raise PermissionDenied(
        f"deal {deal.pk} belongs to someone outside your "
        f"{'teams' if user.is_manager else 'deals'}; ask its owner or their manager"
    )


def managed_people(user: User) -> frozenset[int]:
    """The ids of the people in the teams `user` manages (one query), for
    `check_may_change` to ask of many deals."""
    return frozenset(
        User.objects.filter(team__manager=user).values_list("pk", flat=True)
    )


# How the API and the deal page name a move's texts; the command line names
# them as its options (`--reason`), and each refusal names what was typed.
MOVE_FIELD_NAMES: Mapping[str, str] = {
    "loss_reason": "loss_reason",
    "loss_note": "loss_note",
    "override_reason": "override_reason",
}


def move_deal(
    deal_id: int,
    to: str,
    *,
    by: User | None,
    expected_version: int | None,
    loss_reason: str = "",
    loss_note: str = "",
    override_reason: str = "",
    source: str = "web",
    refuse_unneeded_override: bool = False,
    names: Mapping[str, str] = MOVE_FIELD_NAMES,
) -> Deal:
    """Move a deal to stage key `to`, or to "won" or "lost", and record it.

    Refuses with `MoveRefused` (listing every unmet criterion in words) when a
    gate is not met, unless a manager gives `override_reason`; a missing loss
    reason is never overridable. `expected_version` is the version the caller
    read: if the deal changed since, `Conflict` is raised and nothing is
    written. The deal row is locked for the move (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite serialises writers), and the version is bumped with a
    conditional UPDATE, so two racing moves produce exactly one event.
    A move dated (`timesource.now()`, an as-of time) before the deal's last
    stage event is refused with `MoveOutOfOrder`: history only runs forward.
    With `refuse_unneeded_override`, an `override_reason` given for a move
    that meets its criteria is refused naming it; without, it is recorded
    only where it lifted a gate (a bulk move's deals differ), and the
    refusal names it as `names` spells it (`refuse_unused_move_fields`).
    """
    _check_move_texts(loss_note, override_reason)
    with transaction.atomic():
        deal, layout = _locked_deal(deal_id)
        # Read once the deal is locked: a move that waited for a racing one
        # is dated after it, and the deal's history stays in order.
        now = timesource.now()
        check_may_change(by, deal)
        if expected_version is not None and deal.version != expected_version:
            raise Conflict(
                f"deal {deal_id} changed since you loaded it (your version "
                f"{expected_version}, now {deal.version}); reload and try again"
            )
        _check_in_order(deal, now)
        stages = layout.open_stages()
        if any(stage.key == to for stage in stages):
            # A key the layout does not know is refused by check_move below.
            _lock_live_stage(deal, to)
        check = check_move(
            deal,
            to,
            now=now,
            loss_reason=loss_reason,
            loss_note=loss_note,
            stages=stages,
        )
        if check.problems:
            raise MoveRefused(
                "Refused: " + "; ".join(check.problems),
                check.problems,
                field=check.problem_field
                or ("loss_reason" if check.kind == "lost" else "to"),
            )
        override = ""
        if check.unmet:
            if looks_blank(override_reason):
                # A reason of invisible characters only is no reason: the
                # refusal says so, beside the criteria it would have lifted.
                said = override_reason.strip() and blank_problem(
                    override_reason, "override_reason"
                )
                words = "; ".join([*check.unmet, *([said] if said else [])])
                raise MoveRefused(
                    "Refused: " + words,
                    check.unmet,
                    field="override_reason" if said else None,
                )
            if by is None or not by.is_manager:
                raise PermissionDenied(
                    "only a manager or admin may override a refused move"
                )
            override = override_reason.strip()
        elif refuse_unneeded_override and override_reason.strip():
            # Recorded only where it lifted a gate; a reason for an override
            # that did not happen is refused rather than dropped.
            override = names["override_reason"]
            raise ValidationError(
                f"{override}: deal {deal.pk} meets what this move needs, so "
                f"nothing is overridden; make the move without {override}",
                field="override_reason",
            )
        # Where the deal was: its stage while open, else won or lost.
        came_from = deal.stage.key if deal.status == Deal.Status.OPEN else deal.status
        _apply_move(
            deal,
            to,
            stages,
            layout,
            by,
            now,
            check.loss_reason,
            loss_note,
            override,
            source,
        )
        # Said once the move is kept: a bulk move that refuses another deal
        # rolls this one back too, and a log never reports an undone move.
        transaction.on_commit(
            partial(
                log.info,
                "deal %s moved from %s to %s by %s%s",
                deal.pk,
                came_from,
                to,
                _who(by),
                " (override)" if override else "",
            )
        )
    return deal


class MoveOutOfOrder(ValidationError):
    """A move dated before the deal's last stage event: history runs forward."""

    code = "move_out_of_order"


def _check_in_order(deal: Deal, now: dt.datetime) -> None:
    """Refuse a move (win, loss, reopen) of `deal` dated `now`, before its
    last stage event: its history would run backwards and the stay it ends
    would be negative. The last event is the latest of the deal's history and
    of when it entered its stage or closed (imported deals may have no
    history): `deal` as `_locked_deal` reads it, with `last_event_at`."""
    entered = (
        deal.stage_entered_at if deal.status == Deal.Status.OPEN else deal.closed_at
    )
    newest = getattr(deal, "last_event_at", None)
    last = max((at for at in (entered, newest) if at is not None), default=None)
    if last is None or now >= last:
        return
    # Dated in the pipeline's zone, as the deal page shows its history.
    zone = calendar_for(deal.pipeline).timezone
    raise MoveOutOfOrder(
        f"deal {deal.pk}: a move dated {local_time(now, zone)} comes before its "
        f"last stage event, on {local_time(last, zone)}; a deal's history only "
        "runs forward"
    )


def refuse_unused_move_fields(
    to: str,
    *,
    by: User | None,
    loss_reason: str = "",
    loss_note: str = "",
    override_reason: str = "",
    names: Mapping[str, str] = MOVE_FIELD_NAMES,
) -> None:
    """Refuse what a move to `to` would not use, naming it, rather than drop
    it: a loss reason or note with a move other than to lost (422), an
    override reason with a loss, which passes no criteria (422), and an
    override reason from someone who may not override (403). Whether a move
    to a stage or won needs the override is known once its gates are read
    (`move_deal`'s `refuse_unneeded_override`). Each refusal names the
    field as `names` spells it (an option on the command line); its `field`
    stays the field's own name."""
    if to != LOST:
        for field, text in (("loss_reason", loss_reason), ("loss_note", loss_note)):
            if text.strip():
                raise ValidationError(
                    f"{names[field]}: only a move to lost reads a loss reason or "
                    f"note; this one is to {cut(to, 100)!r}: leave it out",
                    field=field,
                )
    if not override_reason.strip():
        return
    override = names["override_reason"]
    if to == LOST:
        raise ValidationError(
            f"{override}: a loss passes no criteria, so there is nothing to "
            f"override; say why the deal was lost in {names['loss_reason']} and "
            f"{names['loss_note']}",
            field="override_reason",
        )
    if by is None or not by.is_manager:
        raise PermissionDenied(
            f"{override}: only a manager or admin may override a refused "
            "move; leave it out, and the move goes through its gates",
            field="override_reason",
        )


def _check_move_texts(loss_note: str, override_reason: str) -> None:
    """What a person typed for a move, refused before any deal is read."""
    for name, text in (("loss_note", loss_note), ("override_reason", override_reason)):
        check_text(text.strip(), name, limit=TEXT_LIMITS[name])


class BulkMoveRefused(ValidationError):
    """A bulk move in which at least one deal was refused; none moved."""

    code = "bulk_move_refused"

    def __init__(self, refusals: dict[int, str]) -> None:
        first = ", ".join(f"deal {pk}" for pk in list(refusals)[:5])
        super().__init__(
            f"Refused: {len(refusals)} of the deals cannot move ({first}); "
            "none was moved"
        )
        self.refusals = refusals

    def as_dict(self) -> dict[str, Any]:
        refusals = {str(pk): reason for pk, reason in self.refusals.items()}
        return {**super().as_dict(), "refusals": refusals}


# The most deals one bulk move takes. A move costs milliseconds per deal,
# all in one transaction that keeps every deal it moved locked to the end,
# and gunicorn kills a worker still busy after 30 s. Through the API on the
# busy 2-core project machine, 500 deals behind a gate reading each deal's
# activities took 3.3 s on SQLite and 8 s on PostgreSQL: room to spare at
# 500, too little at 1,000. A board selection never holds that many.
MOST_DEALS_PER_BULK_MOVE = 500


def check_bulk_size(count: int, *, field: str = "deals") -> None:
    """Refuse a bulk move of more than `MOST_DEALS_PER_BULK_MOVE` deals,
    naming `field`, the door's name for the list of deals."""
    if count > MOST_DEALS_PER_BULK_MOVE:
        raise ValidationError(
            f"{field}: a bulk move takes at most {MOST_DEALS_PER_BULK_MOVE:,} "
            f"deals, this one has {count:,}; send them in several moves",
            field=field,
        )


def move_deals(
    versions: dict[int, int | None],
    to: str,
    *,
    by: User | None,
    loss_reason: str = "",
    loss_note: str = "",
    override_reason: str = "",
    source: str = "bulk",
) -> list[Deal]:
    """Move several deals (deal id -> the version the caller read) at once,
    all or nothing: each goes through `move_deal`'s gates, and if any is
    refused or changed meanwhile, none moves and `BulkMoveRefused` says why
    for each. At most `MOST_DEALS_PER_BULK_MOVE` deals are taken."""
    check_bulk_size(len(versions))
    # Once for all the deals, not as a refusal of each.
    _check_move_texts(loss_note, override_reason)
    moved, refusals = [], {}
    with transaction.atomic():
        # In id order, as every writer that locks several deals takes them:
        # two overlapping bulk moves sent in other orders would otherwise
        # each hold a deal the other waits for.
        for deal_id, version in sorted(versions.items()):
            try:
                with transaction.atomic():
                    moved.append(
                        move_deal(
                            deal_id,
                            to,
                            by=by,
                            expected_version=version,
                            loss_reason=loss_reason,
                            loss_note=loss_note,
                            override_reason=override_reason,
                            source=source,
                        )
                    )
            except (ValidationError, Conflict, NotFound, PermissionDenied) as exc:
                refusals[deal_id] = exc.message
        if refusals:
            transaction.set_rollback(True)
    if refusals:
        log.info(
            "bulk move of %d deals to %s refused for %d; none moved",
            len(versions),
            to,
            len(refusals),
        )
        raise BulkMoveRefused(refusals)
    return moved


def _lock_live_stage(deal: Deal, key: str) -> None:
    """Hold the target stage's row (FOR SHARE) until the move commits, and
    refuse the move if the stage is gone or retired.

    `pipeline apply` locks a stage it removes before it moves that stage's
    deals out, so a move into it either commits first (and its deal is
    moved on with the others) or waits and is refused here; without this,
    a move that read the pipeline's stages before the redesign could put a
    deal into a stage just retired, off the board. SQLite's writers are
    serialised already (BEGIN IMMEDIATE).
    """
    if connection.vendor != "postgresql":
        return
    table = Stage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "retired_at" FROM "{table}" WHERE "pipeline_id" = %s '
            'AND "key" = %s FOR SHARE',
            [deal.pipeline_id, key],
        )
        row = cursor.fetchone()
    if row is None or row[0] is not None:
        raise ValidationError(
            f"stage {key!r} was just removed from pipeline "
            f"{deal.pipeline.key!r}; reload and choose another",
            field="to",
        )


def _locked_deal(deal_id: int) -> tuple[Deal, Layout]:
    """Lock the deal's row and read it with its pipeline, in one statement,
    and its stage from the pipeline's layout. Its people are read only when
    something asks for them.

    Only the deal's row is locked and only the pipeline is joined: when a
    racing move commits while this one waits, PostgreSQL reads the deal's
    row again but keeps the joined rows it first found, so a join on a
    column a move changes (stage, responsible) could lose the row. A deal
    never changes pipeline.
    """
    query = Deal.objects.select_for_update(of=("self",)).select_related("pipeline")
    # For `_check_in_order`, in the same statement. After waiting for a
    # racing move, PostgreSQL may keep this value from before it; that move
    # also set the deal's own stage entry or close time, which is read fresh.
    newest = StageEvent.objects.filter(deal=OuterRef("pk")).order_by("-at")
    query = query.annotate(last_event_at=Subquery(newest.values("at")[:1]))
    found = list(query.filter(pk=deal_id))
    if not found:
        raise NotFound(f"no deal with id {deal_id}")
    deal = found[0]
    layout = layout_for(deal.pipeline)
    stage = layout.stage(deal.stage_id)
    if stage is not None:
        deal.stage = stage
    return deal, layout


def _apply_move(
    deal: Deal,
    to: str,
    stages: list[Stage],
    layout: Layout,
    by: User | None,
    now: dt.datetime,
    loss_reason: str,
    loss_note: str,
    override: str,
    source: str,
) -> None:
    from_stage, from_status = deal.stage, deal.status
    from_entered_at = deal.stage_entered_at
    if deal.status != Deal.Status.OPEN:
        # Time in a closed state is not time in a stage.
        from_entered_at = deal.closed_at
    # Stamped here, not left to the update, so the loaded deal shows it.
    changes: dict[str, Any] = {"version": F("version") + 1, "updated_at": stamp()}
    if to in (WON, LOST):
        changes.update(status=to, closed_at=now)
        changes.update(
            loss_reason=loss_reason if to == LOST else "",
            loss_note=loss_note.strip() if to == LOST else "",
        )
        to_stage, responsible_id = from_stage, deal.responsible_id
    else:
        to_stage = next(stage for stage in stages if stage.key == to)
        responsible_id = _responsible_id(to_stage, deal)
        changes.update(
            status=Deal.Status.OPEN,
            stage=to_stage,
            stage_entered_at=now,
            closed_at=None,
            loss_reason="",
            loss_note="",
            responsible_id=responsible_id,
        )
    business_minutes = None
    if from_entered_at is not None and from_entered_at <= now:
        calendar = calendar_for(deal.pipeline)
        business_minutes = business_time.between(calendar, from_entered_at, now)
    updated = Deal.objects.filter(pk=deal.pk, version=deal.version).update(**changes)
    if updated != 1:
        raise Conflict(f"deal {deal.pk} changed during the move; reload and try again")
    if responsible_id != deal.responsible_id:
        check_still_active("owner", responsible_id)
    StageEvent.objects.create(
        deal=deal,
        from_stage=from_stage,
        to_stage=to_stage,
        from_status=from_status,
        to_status=changes["status"],
        at=now,
        from_entered_at=from_entered_at,
        from_business_minutes=business_minutes,
        by=by,
        override_reason=override,
        responsible_id=responsible_id,
        loss_reason=loss_reason if to == LOST else "",
        source=source,
    )
    # The row is locked and we wrote it: keep the loaded deal (and its cached
    # pipeline and stage) current instead of reading it back.
    for name, value in changes.items():
        if name != "version":
            setattr(deal, name, value)
    deal.version += 1
    clocks.deal_moved(deal, from_stage, from_status, now, layout=layout)


class Responsible:
    """Who must move a deal out of its stage: the one rule, decided in memory.

    A person-owned stage names its person while they may sign in; a
    team-owned stage goes to the active member responsible for the fewest
    open deals (ties: the lowest id, so the choice is stable); otherwise,
    and for a team without active members or a stage whose person has left,
    the deal's owner. A stage owned by someone inactive is logged at WARNING
    once per instance (one move, one redesign), naming them.

    Moves, lead conversions, imports and pipeline redesigns all decide
    through this class. A team's members and their loads are read once, with
    one query, then kept current as open deals are routed: routing n deals
    costs one query per team, not one per deal. Call it once per deal, in
    the order the deals are routed.
    """

    def __init__(self, stages: Iterable[Stage]) -> None:
        stages = list(stages)
        self.rules = {
            stage.pk: (stage.owner_kind, stage.owner_user_id, stage.owner_team_id)
            for stage in stages
        }
        self.stages = {stage.pk: stage for stage in stages}
        self.loads: dict[int, dict[int, int]] = {}
        self.gone = _inactive_owners(stages)
        self.warned: set[int] = set()

    def __call__(
        self,
        stage_id: int,
        owner_id: int | None,
        status: str,
        *,
        previous: int | None = None,
    ) -> int | None:
        """The responsible user's id for a deal in `stage_id` with `owner_id`
        and `status`. Only an open deal counts toward a member's load; an
        open deal already counted for `previous` stops counting there."""
        kind, user_id, team_id = self.rules[stage_id]
        if kind == Stage.OwnerKind.PERSON and user_id in self.gone:
            self._warn_gone(stage_id, user_id)
        elif kind == Stage.OwnerKind.PERSON and user_id:
            return user_id
        if kind == Stage.OwnerKind.TEAM and team_id:
            loads = self.team(team_id)
            member = least_loaded(loads)
            if member is not None:
                if status == Deal.Status.OPEN:
                    loads[member] += 1
                    if previous in loads:
                        loads[previous] -= 1
                return member
        return owner_id

    def _warn_gone(self, stage_id: int, user_id: int) -> None:
        if stage_id in self.warned:
            return
        self.warned.add(stage_id)
        stage = self.stages[stage_id]
        log.warning(
            "stage %s of pipeline %s is owned by %s, who may not sign in any "
            "more: its deals go to their owner; give the stage another owner",
            stage.key,
            stage.pipeline.key,  # a query when not loaded, on this rare path
            self.gone[user_id],
        )

    def would_read(self, stage_ids: Iterable[int]) -> bool:
        """Whether routing deals in these stages reads the database: a
        team-owned stage whose team's loads are not known yet."""
        for stage_id in stage_ids:
            kind, _, team_id = self.rules[stage_id]
            if kind == Stage.OwnerKind.TEAM and team_id and team_id not in self.loads:
                return True
        return False

    def team(self, team_id: int) -> dict[int, int]:
        """Active member id -> open deals they are responsible for."""
        if team_id not in self.loads:
            self.loads[team_id] = team_loads(team_id)
        return self.loads[team_id]


def _inactive_owners(stages: list[Stage]) -> dict[int, str]:
    """Id -> username of the people owning some of `stages` who may no
    longer sign in: none of them is made responsible (one query, none when
    no stage is a person's, none when their users are loaded)."""
    people = {
        stage.owner_user_id
        for stage in stages
        if stage.owner_kind == Stage.OwnerKind.PERSON and stage.owner_user_id
    }
    if not people:
        return {}
    loaded = [
        stage.owner_user
        for stage in stages
        if stage.owner_user_id in people and Stage.owner_user.is_cached(stage)
    ]
    if {user.pk for user in loaded} == people:
        return {user.pk: user.username for user in loaded if not user.is_active}
    gone = User.objects.filter(pk__in=people, is_active=False)
    return dict(gone.values_list("pk", "username"))


def check_still_active(field: str, *user_ids: int | None) -> None:
    """Refuse, naming `field`, a write that gave work to someone who may no
    longer sign in (a new deal's owner or responsible person, a new owner, a
    move's responsible person, a lead's owner). Call it after the write, in
    its transaction. On PostgreSQL the people are read FOR KEY SHARE, which
    a hand-over's lock on the leaver conflicts with
    (`accounts.handover.hold`): a write made first holds the hand-over until
    it commits, and the hand-over takes its work too; a write made during
    one waits for it, then reads the leaver inactive here and is undone.
    (Django's foreign keys are checked only at commit, too late to refuse.)
    SQLite serialises writers. One query."""
    wanted = sorted({pk for pk in user_ids if pk is not None})
    if not wanted:
        return
    table = User._meta.db_table
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    marks = ", ".join(["%s"] * len(wanted))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "username", "is_active" FROM "{table}" '
            f'WHERE "id" IN ({marks}) ORDER BY "id"{lock}',
            wanted,
        )
        gone = [username for username, active in cursor.fetchall() if not active]
    if gone:
        raise ValidationError(
            f"{field}: {gone[0]} may not sign in any more; choose someone active",
            field=field,
        )


def team_loads(team_id: int) -> dict[int, int]:
    """Active member id -> open deals they are responsible for; one query."""
    open_deals = Q(responsible_for__status=Deal.Status.OPEN)
    members = User.objects.filter(team_id=team_id, is_active=True)
    return dict(
        members.annotate(load=Count("responsible_for", filter=open_deals))
        .values_list("pk", "load")
        .order_by()
    )


def least_loaded(loads: dict[int, int]) -> int | None:
    """The member with the fewest open deals (ties: the lowest id)."""
    return min(loads, key=lambda pk: (loads[pk], pk)) if loads else None


def responsible_for(stage: Stage, deal: Deal) -> User | None:
    """The one person who must move `deal` out of `stage` (`Responsible`).

    The stage's person and the deal's owner come from what is loaded; a
    team member costs two queries (the loads, then the member).
    """
    chosen = _responsible_id(stage, deal)
    if chosen is None:
        return None
    if chosen == stage.owner_user_id and stage.owner_kind == Stage.OwnerKind.PERSON:
        return stage.owner_user
    if chosen == deal.owner_id:
        return deal.owner
    return User.objects.get(pk=chosen)


def _responsible_id(stage: Stage, deal: Deal) -> int | None:
    """The choice of `responsible_for`, as an id: a move needs no more, and
    so loads neither the stage's owner nor the deal's. The deal still
    counts for whoever is responsible for it now, as in a redesign."""
    route = Responsible([stage])
    return route(
        stage.pk, deal.owner_id, Deal.Status.OPEN, previous=deal.responsible_id
    )


def least_loaded_member(team_id: int, *, exclude: User | None = None) -> User | None:
    """The active member of a team responsible for the fewest open deals
    (ties: the lowest id, as `Responsible` chooses), leaving out `exclude`.
    Two queries: the loads, then the member."""
    loads = team_loads(team_id)
    if exclude is not None:
        loads.pop(exclude.pk, None)
    member = least_loaded(loads)
    return None if member is None else User.objects.get(pk=member)


# --- a deal made by hand -----------------------------------------------------

CREATE_FIELDS = frozenset(
    {
        *("title", "value", "currency", "expected_close_date", "notes"),
        *("custom", "owner", "organization"),
    }
)


def check_may_create(user: User | None, owner: User | None) -> None:
    """Refuse unless `user` may create a deal owned by `owner`: a rep only
    deals they own; a manager or admin deals for anyone, or for no one.
    `None` is the system and may create any deal."""
    check_may_own(user, owner, "a rep creates deals they own, not for {whom}")


def may_own(user: User | None, owner: User | None) -> bool:
    """Whether `user` may leave a deal owned by `owner` (None: no one): a rep
    only deals they own themselves, a manager or an admin deals of anyone or
    of no one. `None` is the system. The one rule the saves check
    (`check_may_own`) and the forms offer (`owners_offered`)."""
    if user is None or user.is_manager:  # an admin is a manager too
        return True
    return owner is not None and owner.pk == user.pk


def owners_offered(
    user: User | None, current: User | None = None
) -> tuple[list[User], bool]:
    """The active people `user` may choose as a deal's owner, and whether
    they may choose no one, by `may_own`; a deal's `current` owner (or no
    one) is offered too, since keeping it is no change. Unordered: the
    forms sort them by the names they show."""
    active = User.objects.filter(is_active=True)
    people = {person.pk: person for person in active if may_own(user, person)}
    if current is not None:
        people.setdefault(current.pk, current)
    return list(people.values()), may_own(user, None) or current is None


def check_may_own(user: User | None, owner: User | None, refusal: str) -> None:
    """Refuse, with `refusal` naming the owner as {whom}, unless `user` may
    leave a deal owned by `owner` (`may_own`)."""
    if not may_own(user, owner):
        whom = owner.username if owner else "no one"
        raise PermissionDenied(
            f"{refusal.format(whom=whom)}; ask a manager", field="owner"
        )


def _responsible_after(deal: Deal, owner_id: int | None) -> dict[str, Any]:
    """The change of responsible person an open deal's new owner brings (a
    stage its owner is responsible for, or a team's member who was the
    owner), with its running clocks moved along in the edit's transaction."""
    if deal.status != Deal.Status.OPEN:
        return {}
    before = deal.responsible_id
    route = Responsible([deal.stage])
    after = route(deal.stage_id, owner_id, Deal.Status.OPEN, previous=before)
    if after == before:
        return {}
    # Clocks name the responsible person, or else the owner (clocks.services).
    was, will = before or deal.owner_id, after or owner_id
    clocks.deal_reassigned(deal.pk, was, will)
    return {"responsible_id": after}


def hand_over_responsibility(
    deal_id: int, before: User, after: User, *, by: User | None
) -> bool:
    """Make `after` responsible for an open deal `before` must move out of
    its stage (a stage `before` owns, or a team's turn that fell to them),
    with the deal's running clocks: the work of a person who leaves
    (dealgate.accounts.handover). The version goes up, as with any change.
    False, changing nothing, when `before` is no longer responsible for it
    or it is closed."""
    with transaction.atomic():
        moved = Deal.objects.filter(
            pk=deal_id, status=Deal.Status.OPEN, responsible_id=before.pk
        ).update(responsible_id=after.pk, version=F("version") + 1)
        if not moved:
            return False
        clocks.deal_reassigned(deal_id, before.pk, after.pk)
        transaction.on_commit(
            partial(
                log.info,
                "deal %s: responsible person changed from %s to %s by %s",
                deal_id,
                before.username,
                after.username,
                _who(by),
            )
        )
    return True


def person_named(username: str | None, *, field: str = "owner") -> User | None:
    """The active user `username` names, or None for an empty name; refused,
    naming `field`, when no active user has it."""
    username = (username or "").strip()
    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError(
            f"{field}: there is no active user {username!r}", field=field
        )
    return user


def _active_user(pk: int | None, *, field: str = "owner_id") -> User | None:
    """The active user with id `pk`, or None for none; refused, naming
    `field`, when no active user has it."""
    if pk is None:
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationError(f"{field}: there is no active user {pk!r}", field=field)
    return user


def organization_named(
    name: str | None, *, field: str = "organization"
) -> Organization | None:
    """The organization `name` names, created when there is none yet; None
    for no name (None or "").

    Names are compared by `names.name_key` (Unicode NFKC, format characters
    such as zero-width spaces removed, spacing and case aside): "Acme",
    " acme " and "Ac\u200bme" find one organization, the first made (the
    lowest id, should several share a key). A new one keeps the spelling
    typed, tidied (`names.tidy_name`). Refused, naming `field`: a name of
    more than 200 characters, one with a line break or control character,
    and one with nothing visible in it, spaces alone included
    (`text.optional_text`).

    Call inside a transaction: on PostgreSQL a lock on the key, held to its
    end, keeps two requests from creating "Acme" and "acme" at once (SQLite
    serialises writers already).
    """
    if name is None or name == "":
        return None
    limit = Organization._meta.get_field("name").max_length
    if CONTROL_OR_BREAK.search(name):
        raise ValidationError(
            f"{field} must be one line, without line breaks or control characters",
            field=field,
        )
    optional_text(name, field, empty="give a name, or leave it empty for none")
    tidy = tidy_name(name)
    if len(tidy) > limit:
        raise ValidationError(
            f"{field} is {len(tidy):,} characters long; the limit is {limit}",
            field=field,
        )
    key = name_key(tidy)
    lock_organization_name(key)
    found = Organization.objects.filter(name_key=key).order_by("pk").first()
    if found is not None:
        return found
    organization = Organization.objects.create(name=tidy)
    transaction.on_commit(
        partial(log.info, "organization %s created as %r", organization.pk, tidy)
    )
    return organization


def lock_organization_name(key: str) -> None:
    """Hold, to the transaction's end, a PostgreSQL advisory lock on the
    organization name `key` (`names.name_key`), so that two requests cannot
    create one name twice. SQLite's write lock already does."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"organization:{key}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)",
            [int.from_bytes(digest, "big", signed=True)],
        )


def create_deal(
    pipeline: Pipeline,
    fields: dict[str, Any],
    *,
    by: User | None,
    stage: str = "",
    source: str = "web",
) -> Deal:
    """Create an open deal in `pipeline` from `fields` (`CREATE_FIELDS`), in
    its first open stage or the stage keyed `stage`, and record its entry.

    The owner is `by` unless `fields` names one (a rep creates only deals
    they own); the rest is `start_deal`'s, as for a converted lead: the
    organization is found by name or created, and the deal enters its stage
    as a move from the first stage would (the first stage's entry criteria,
    and for a later stage the exit criteria a forward move passes and the
    stage's entry criteria), else nothing is written and `MoveRefused` lists
    what is missing.
    """
    unknown = set(fields) - CREATE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name} cannot be set on a new deal", field=name)
    with transaction.atomic():
        owner = person_named(fields["owner"]) if "owner" in fields else by
        check_may_create(by, owner)
        values = {name: value for name, value in fields.items() if name != "owner"}
        deal, unmet = start_deal(
            pipeline, values, owner=owner, by=by, stage=stage, source=source
        )
        if unmet:
            # Raised inside the transaction: the deal and its rows go too.
            raise MoveRefused("Refused: " + "; ".join(unmet), unmet, field="stage")
    # Logged once committed, as moves and edits are.
    line = ("deal %s created in %s by %s", deal.pk, deal.stage.key, _who(by))
    transaction.on_commit(lambda: log.info(*line))
    return deal


@dataclass(frozen=True)
class Contact:
    """The person a new deal is with, made with the deal at its organization."""

    name: str
    email: str = ""
    phone: str = ""


def start_deal(
    pipeline: Pipeline,
    fields: dict[str, Any],
    *,
    owner: User | None,
    by: User | None,
    source: str,
    stage: str = "",
    contact: Contact | None = None,
    external_id: str = "",
    activities: Iterable[Activity] = (),
) -> tuple[Deal, list[str]]:
    """Write a new open deal and its entry into its stage: the one way a deal
    is made by hand, which `create_deal` (the page and the API) and a lead's
    conversion call inside their transaction, once they have checked who may.

    `fields` are `CREATE_FIELDS` but the owner, checked as an edit checks
    them; the currency is the pipeline's unless given. The organization is
    found by name or created (`organization_named`); a `contact` is made at
    it; `activities` (unsaved, what already happened with the buyer) are
    recorded with the deal, since criteria read them. Who is responsible is
    decided by `Responsible`; the clocks start when the row is saved
    (`clocks.signals`).

    Returns the deal and, in words, the gates of its stage it does not meet
    (`_entry_check`): the caller refuses with them in its own words, and its
    transaction takes everything written here back.
    """
    required_text(
        str(fields.get("title") or ""), "title", missing="a deal needs a title"
    )
    checked = {name: fields[name] for name in _CHECKED_FIELDS if name in fields}
    if checked.get("currency") is None:
        checked["currency"] = pipeline.currency
    checked = _cleaned(checked)
    now = timesource.now()
    stages = list(active_stages(pipeline))
    target = _entry_stage(pipeline, stages, stage)
    organization = organization_named(fields.get("organization"))
    deal = Deal(
        pipeline=pipeline,
        stage=target,
        owner=owner,
        organization=organization,
        created_at=now,
        stage_entered_at=now,
        source=source,
        external_id=external_id,
        **checked,
    )
    deal.custom = set_values(_checked_custom(deal, fields.get("custom") or {}))
    if contact is not None:
        deal.contact = Person.objects.create(
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            organization=organization,
        )
    deal.responsible = responsible_for(target, deal)
    deal.save()
    check_still_active("owner", deal.owner_id, deal.responsible_id)
    StageEvent.objects.create(
        deal=deal,
        to_stage=target,
        to_status=Deal.Status.OPEN,
        at=now,
        by=by,
        responsible=deal.responsible,
        source=source,
    )
    happened = list(activities)
    for activity in happened:
        activity.deal = deal
    Activity.objects.bulk_create(happened)
    return deal, _entry_check(deal, stages, target, now).unmet


def _entry_stage(pipeline: Pipeline, stages: list[Stage], key: str) -> Stage:
    if not stages:
        raise ValidationError(
            f"pipeline {pipeline.key} has no stage to start a deal in",
            field="stage",
        )
    if not key:
        return stages[0]
    for stage in stages:
        if stage.key == key:
            return stage
    listed = ", ".join(stage.key for stage in stages)
    raise ValidationError(
        f"pipeline {pipeline.key!r} has no open stage {key!r} ({listed})",
        field="stage",
    )


def _entry_check(
    deal: Deal, stages: list[Stage], target: Stage, now: dt.datetime
) -> MoveCheck:
    """The gates of a new deal entering `target`: the first stage's entry
    criteria, as a converted lead passes them, then what a forward move from
    the first stage into `target` passes (`check_move`)."""
    first = stages[0]
    gates = [(first.name, "entry", first.entry_criteria)]
    if target.pk != first.pk:
        gates.append((first.name, "exit", first.exit_criteria))
        if not deal.pipeline.allow_skipping:
            gates += [
                (stage.name, "exit", stage.exit_criteria)
                for stage in stages
                if first.position < stage.position < target.position
            ]
        gates.append((target.name, "entry", target.entry_criteria))
    check = MoveCheck(kind="create")
    _evaluate(check, deal, now, gates)
    return check


EDITABLE_FIELDS = {
    "title",
    "value",
    "currency",
    "expected_close_date",
    "notes",
    "custom",
    "checklist",
    "owner_id",
    "organization_id",
    "contact_id",
    "product_id",
    "owner",  # a username; None or "" leaves the deal unowned
    "organization",  # a name, found or created; None or "" for none
}


# Plain columns an edit may set, checked as the model declares them (length,
# digits and decimal places, blank) before anything is written: a value the
# column would round, or could not read back (1e400), is refused instead.
_CHECKED_FIELDS = ("title", "value", "currency", "expected_close_date", "notes")


def _cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(changes)
    for name in _CHECKED_FIELDS:
        if name not in cleaned:
            continue
        value = cleaned[name]
        if name == "title" and isinstance(value, str):
            value = required_text(value, "title")
            if CONTROL_OR_BREAK.search(value):
                raise ValidationError(
                    "title must be one line, without line breaks or control characters",
                    field="title",
                )
        elif name == "notes" and value is None:
            value = ""  # null clears the notes, which are text, never NULL
        elif name == "notes" and isinstance(value, str):
            check_text(value, "notes", limit=TEXT_LIMITS["notes"])
        elif name == "currency" and isinstance(value, str):
            value = _currency(value)
        elif name == "value" and isinstance(value, Decimal):
            value = _stored_places(value)
            if value is None:
                continue  # refused by check_decimals, naming the currency
            if value.is_finite() and value > MAX_AMOUNT:
                # Named with the largest amount, where the column's own
                # check would count only digits.
                raise ValidationError(f"value: {too_large(str(value))}", field=name)
            if value.is_finite() and value < 0:
                # Before the column's check too, which would count the
                # digits of a hugely negative amount instead.
                raise ValidationError(f"value: {too_small(str(value))}", field=name)
        try:
            cleaned[name] = Deal._meta.get_field(name).clean(value, None)
        except DjangoValidationError as exc:
            message = " ".join(exc.messages)
            raise ValidationError(f"{name}: {message}", field=name) from None
    for name in ("custom", "checklist"):
        values = cleaned.get(name)
        for key, value in values.items() if isinstance(values, dict) else ():
            if holds_nul(key) or holds_nul(value):
                # Named as the edit form names the input ("custom:need").
                raise ValidationError(
                    f"must not hold a NUL character ({name} {key!r})",
                    field=f"{name}:{key}",
                )
        if holds_nul(values):
            raise ValidationError(f"{name} must not hold a NUL character", field=name)
    if "currency" in cleaned:
        # A new deal always has its currency here; an edit of the value
        # alone is checked against the stored currency in `update_deal`.
        check_decimals(cleaned.get("value"), cleaned["currency"])
    value = cleaned.get("value")
    if value is not None and value < 0:
        raise ValidationError(f"value: {too_small(str(value))}", field="value")
    day = cleaned.get("expected_close_date")
    if day is not None:
        check_day(day, "expected_close_date")
    return cleaned


def check_day(day: dt.date, field: str) -> None:
    """Refuse, naming `field` and the range, a day a person gave outside the
    years every door keeps to (`core.dates`)."""
    problem = years_problem(day)
    if problem is not None:
        raise ValidationError(f"{field} {problem}", field=field)


def _stored_places(value: Decimal) -> Decimal | None:
    """`value` with the decimals it is stored with ("1.000" is 1.00), or None
    when it has more that are not zeros: `check_decimals` refuses it then,
    naming the currency, where the column's own check would only say "no
    more than 2 decimal places"."""
    if not value.is_finite() or -value.as_tuple().exponent <= STORED_PLACES:
        return value
    try:
        stored = value.quantize(Decimal(1).scaleb(-STORED_PLACES))
    except InvalidOperation:
        return value  # too many digits: the column's check says so
    return stored if stored == value else None


def _currency(text: str) -> str:
    problem = currency_problem(text)
    if problem:
        raise ValidationError(f"currency {problem}", field="currency")
    return iso_currency(text) or ""


def _people_by_name(
    deal: Deal, changes: dict[str, Any], by: User | None
) -> dict[str, Any]:
    """`changes` with an owner's username and an organization's name made
    ids, and, once the edit commits, a log line saying who changed them from
    what to what. Names must be resolved under the deal's lock: a new
    organization goes if the edit is refused."""
    changes = dict(changes)
    if "owner" in changes or "owner_id" in changes:
        # An owner by id passes the same checks and hand-over as by name.
        if "owner" in changes:
            owner = person_named(changes.pop("owner"))
        else:
            owner = _active_user(changes["owner_id"])
        changes["owner_id"] = owner.pk if owner else None
        if changes["owner_id"] != deal.owner_id:
            check_may_own(by, owner, "a rep may not give a deal to {whom}")
            changes.update(_responsible_after(deal, changes["owner_id"]))
    if "organization" in changes:
        organization = organization_named(changes.pop("organization"))
        changes["organization_id"] = organization.pk if organization else None
    moved = [
        (name, getattr(deal, name), changes[name])
        for name in ("owner_id", "organization_id")
        if name in changes and changes[name] != getattr(deal, name)
    ]
    if moved:
        transaction.on_commit(lambda: _log_people(deal.pk, moved, by))
    return changes


def _log_people(
    deal_id: int, moved: list[tuple[str, int | None, int | None]], by: User | None
) -> None:
    for name, before, after in moved:
        if name == "owner_id":
            found = User.objects.filter(pk__in=[before, after])
            names = dict(found.values_list("pk", "username"))
        else:
            found = Organization.objects.filter(pk__in=[before, after])
            names = dict(found.values_list("pk", "name"))
        log.info(
            "deal %s: %s changed from %s to %s by %s",
            deal_id,
            name.removesuffix("_id"),
            names.get(before, "none"),
            names.get(after, "none"),
            _who(by),
        )


def _checked_custom(deal: Deal, values: Any) -> dict[str, Any]:
    """Custom `values` for `deal`, typed as its pipeline declares them, so
    rules read what the pipeline promises and the edit form can show them."""
    fields = declared_fields(deal.pipeline.custom_fields)
    try:
        return checked_values(fields, values, stored=deal.custom)
    except CustomValueError as exc:
        name = f"custom.{exc.key}" if exc.key else "custom"
        raise ValidationError(f"{name}: {exc.message}", field=name) from None


def _check_checklist(checklist: dict[str, Any], stored: dict[str, Any]) -> None:
    """Refuse the `checklist` an edit would store when a key it adds is
    blank, longer than CHECKLIST_KEY_LIMIT or not one line of text, or when
    it adds items past MOST_CHECKLIST_ITEMS; the refusal names `checklist`
    and the limit. Items the deal holds already are kept as they are, so an
    edit of another field never fails on them and an item can be removed."""
    added = [key for key in checklist if key not in stored]
    for key in added:
        check_checklist_key(key)
    if added and len(checklist) > MOST_CHECKLIST_ITEMS:
        raise ValidationError(
            f"checklist would hold {len(checklist):,} items; the limit is "
            f"{MOST_CHECKLIST_ITEMS:,}",
            field="checklist",
        )


# The fields of a closed deal the figures read (won value, its average,
# velocity, win rates by owner, product or organization), by the name the
# edit form and the API give each: what it closed with, corrected only by a
# manager or an admin with a reason (`check_closed_edit`).
CLOSED_FIGURES: Mapping[str, str] = {
    "value": "value",
    "currency": "currency",
    "owner_id": "owner",
    "organization_id": "organization",
    "product_id": "product",
    "expected_close_date": "expected_close_date",
}


def may_correct_closed(user: User | None) -> bool:
    """Whether `user` may correct the fields of a closed deal the figures
    read (`CLOSED_FIGURES`): a manager or an admin (which deals, as for any
    change, `check_may_change` says), or the system; never a rep. The one
    rule the save checks and the deal page's form follows."""
    return user is None or user.is_manager


def check_closed_edit(
    deal: Deal, fields: list[str], by: User | None, reason: str
) -> str:
    """The reason an edit of the closed `deal` changing `fields` is recorded
    with: refused, naming the first figure field, when `by` may not correct
    the fields the figures read; refused, naming `reason`, when those are
    corrected without one."""
    figures = [CLOSED_FIGURES[name] for name in fields if name in CLOSED_FIGURES]
    if figures and not may_correct_closed(by):
        raise PermissionDenied(
            f"deal {deal.pk} is {deal.status}: the figures read its "
            f"{', '.join(figures)}, so only a manager of its owner's team or "
            "an admin corrects them, with a reason; ask a manager",
            field=figures[0],
        )
    if not figures:
        return (reason or "").strip()
    return required_text(
        reason or "",
        "reason",
        missing=f"say why the {deal.status} deal's {', '.join(figures)} "
        "change; a correction of a closed deal is recorded with its reason",
    )


def update_deal(
    deal_id: int,
    changes: dict[str, Any],
    *,
    by: User | None,
    expected_version: int,
    merge: frozenset[str] = frozenset(),
    reason: str = "",
) -> Deal:
    """Change a deal's fields (never its stage or status: see `move_deal`).

    Raises `Conflict` when the deal changed since the caller read version
    `expected_version`, so a save made on an old copy never overwrites a
    newer change. The fields named in `merge` (`custom`, `checklist`) take
    the keys given into the stored ones, and a key given as None is
    removed: an API client that sends one custom field changes that one,
    where a form that shows them all sends the whole set. An edit that
    changes no stored value writes nothing and keeps the version.

    A value keeps to its currency's decimals (`core.currencies`), the new
    one's or the stored one's, and the items a checklist adds to the
    limits of `_check_checklist`.

    A closed deal keeps what it closed with: the fields the figures read
    (`CLOSED_FIGURES`) are corrected only by a manager or an admin, with a
    `reason` (`check_closed_edit`), and every edit of a closed deal writes a
    system record in its activities naming who changed which field from
    what to what, and why. `reason` is taken only for a closed deal.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name} cannot be changed here", field=name)
    changes = _cleaned(changes)
    check_text(reason or "", "reason", limit=TEXT_LIMITS["reason"])
    with transaction.atomic():
        current = Deal.objects.select_for_update().filter(pk=deal_id).first()
        if current is None:
            raise NotFound(f"no deal with id {deal_id}")
        check_may_change(by, current)
        closed = current.status != Deal.Status.OPEN
        changes = _people_by_name(current, changes, by)
        if "custom" in changes:
            changes["custom"] = _checked_custom(current, changes["custom"])
            if "custom" not in merge:
                changes["custom"] = set_values(changes["custom"])
        for name in merge & changes.keys() & {"custom", "checklist"}:
            if changes[name] is None or current.version != expected_version:
                continue  # a conflict is refused below, before anything is merged
            merged = {**(getattr(current, name) or {}), **changes[name]}
            changes[name] = {k: v for k, v in merged.items() if v is not None}
        if current.version != expected_version:
            raise Conflict(
                f"deal {deal_id} changed since you loaded it (your version "
                f"{expected_version}); reload and try again"
            )
        if (reason or "").strip() and not closed:
            raise ValidationError(
                f"reason: deal {deal_id} is open; a reason is given only for "
                "correcting a closed deal",
                field="reason",
            )
        if changes.keys() & {"value", "currency"}:
            value = changes.get("value", current.value)
            check_decimals(value, changes.get("currency", current.currency))
        if changes.get("checklist") is not None:
            _check_checklist(changes["checklist"], current.checklist or {})
        fields = _changed_fields(current, changes)
        if not fields:
            # Nothing to store: the version stays, so another tab's copy of
            # the same version is still current.
            return current
        if closed:
            reason = check_closed_edit(current, fields, by, reason)
        # Under the row lock taken above: the version read is the stored one.
        Deal.objects.filter(pk=deal_id).update(**changes, version=F("version") + 1)
        if closed:
            _record_closed_edit(
                current, {name: changes[name] for name in fields}, by, reason
            )
        if "owner_id" in fields:
            check_still_active(
                "owner", changes["owner_id"], changes.get("responsible_id")
            )
        changed = ", ".join(fields)
        transaction.on_commit(
            partial(log.info, "deal %s edited by %s: %s", deal_id, _who(by), changed)
        )
    return Deal.objects.get(pk=deal_id)


def _record_closed_edit(
    deal: Deal, changed: dict[str, Any], by: User | None, reason: str
) -> None:
    """Write in the closed `deal`'s activities a system record of an edit:
    who made it, each field in `changed` with its stored and new value, and
    the reason. The subject sums it up in a line; `detail` keeps it whole."""
    now = timesource.now()
    before = {name: _recorded(name, getattr(deal, name)) for name in changed}
    after = {name: _recorded(name, value) for name, value in changed.items()}
    names = {
        name: CLOSED_FIGURES.get(name, name.removesuffix("_id")) for name in changed
    }
    said = "; ".join(
        f"{names[name]} {_said(name, before[name])} → {_said(name, after[name])}"
        for name in changed
    )
    subject = f"{deal.get_status_display()} deal edited by {_who(by)}: {said}"
    if reason:
        subject += f". Reason: {reason}"
    Activity.objects.create(
        deal_id=deal.pk,
        kind=Activity.Kind.SYSTEM,
        subject=cut(" ".join(subject.split()), _SUBJECT_LIMIT),
        done=True,
        at=now,
        by=by,
        done_at=now,
        done_by=by,
        detail={
            "edit": {names[name]: [before[name], after[name]] for name in changed},
            "reason": reason,
            "by": by.username if by else None,
        },
    )


_SUBJECT_LIMIT = Activity._meta.get_field("subject").max_length


def _recorded(name: str, value: Any) -> Any:
    """`value` of the deal's field `name` as a record keeps it, in JSON: an
    amount or a date as text, a person by username, an organization, contact
    or product by name, None for none."""
    if value is None:
        return None
    if name == "owner_id":
        return User.objects.filter(pk=value).values_list("username", flat=True).first()
    related = {
        "organization_id": Organization,
        "contact_id": Person,
        "product_id": Product,
    }.get(name)
    if related is not None:
        return related.objects.filter(pk=value).values_list("name", flat=True).first()
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal(1).scaleb(-STORED_PLACES)))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _said(name: str, value: Any) -> str:
    """A recorded value of the field `name` as the record's one-line subject
    shows it: text quoted, an amount or a date as it is."""
    if value is None:
        return "none"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name in ("value", "expected_close_date") or not isinstance(value, str):
        return cut(str(value), 60)
    return cut(repr(value), 60)


def _changed_fields(current: Deal, changes: dict[str, Any]) -> list[str]:
    """The names in `changes` whose value differs from `current`'s, sorted: a
    form sends every field back, and the log names only what it changed.
    A checklist item absent and one unticked are the same (not done)."""
    changed = []
    for name, value in changes.items():
        stored = getattr(current, name)
        if name == "checklist":
            stored = {key for key, done in (stored or {}).items() if done}
            value = {key for key, done in (value or {}).items() if done}
        if value != stored:
            changed.append(name)
    return sorted(changed)


# --- what happened with the buyer -------------------------------------------


# The kinds a person logs: never a system record (`Activity.Kind.SYSTEM`).
ACTIVITY_KINDS = tuple(str(kind) for kind in Activity.LOGGED)
_TAG = re.compile(r"[\w-]{1,50}")
_HELD_TAG = re.compile(r"""held\(\s*['"]\w+['"]\s*,\s*['"]([\w-]+)['"]""")


def log_activity(
    deal_id: int,
    *,
    kind: str,
    subject: str,
    by: User | None,
    tag: str = "",
    due_at: dt.datetime | None = None,
) -> Activity:
    """Record a call, email, meeting or note that happened now, or a task due
    at `due_at`, on a deal.

    What happened is done at once: criteria read it (`held('email',
    'proposal-sent')` for kind and tag) and a done call, email or meeting
    meets the deal's response window. A task is open until done and runs a
    next-step clock to its due time. Refusals name the field; a person may
    log on the deals they may change.
    """
    if kind not in ACTIVITY_KINDS:
        raise ValidationError(
            f"kind must be one of {', '.join(ACTIVITY_KINDS)}; got {kind!r}",
            field="kind",
        )
    subject = required_text(
        subject, "subject", missing="say in a few words what happened"
    )
    if len(subject) > 300 or CONTROL_OR_BREAK.search(subject):
        raise ValidationError(
            "subject must be one line of at most 300 characters", field="subject"
        )
    tag = crit.tag_key(tag)
    if tag and not _TAG.fullmatch(tag):
        raise ValidationError(
            "tag must be one word of letters, digits, - or _ (e.g. proposal-sent)",
            field="tag",
        )
    task = kind == Activity.Kind.TASK
    if task and due_at is None:
        raise ValidationError("a task needs a due date", field="due_at")
    if not task and due_at is not None:
        raise ValidationError("only a task has a due date", field="due_at")
    if due_at is not None and due_at.utcoffset() is None:
        raise ValidationError(
            "due_at needs a time zone offset, e.g. 2026-07-31T17:00:00+02:00",
            field="due_at",
        )
    if due_at is not None:
        # Business time, which dates the task's clock, is kept for 1900-2199.
        check_day(due_at.date(), "due_at")
    now = timesource.now()
    with transaction.atomic():
        deal = Deal.objects.select_for_update().filter(pk=deal_id).first()
        if deal is None:
            raise NotFound(f"no deal with id {deal_id}")
        check_may_change(by, deal)
        if task and deal.status != Deal.Status.OPEN:
            raise ValidationError(
                f"deal {deal_id} is {deal.status}; reopen it to plan a next step",
                field="kind",
            )
        if due_at is not None:
            _check_not_past(due_at, deal, now)
        activity = Activity.objects.create(
            deal=deal,
            kind=kind,
            subject=subject,
            tag=tag,
            done=not task,
            due_at=due_at,
            at=now,
            by=by,
            done_at=None if task else now,
            done_by=None if task else by,
        )
        if task:
            # Its clock names the responsible person, or else the owner.
            check_still_active("owner", deal.responsible_id or deal.owner_id)
    log.info(
        "deal %s: %s %r logged by %s",
        deal_id,
        kind,
        subject,
        _who(by),
    )
    return activity


def _check_not_past(due_at: dt.datetime, deal: Deal, now: dt.datetime) -> None:
    """Refuse a new task due on a day before today (the as-of date), both
    days as the deal's pipeline calendar reads them; due today, even at an
    hour gone, is taken. A task already overdue stays as it is."""
    zone = calendar_for(deal.pipeline).zone
    today = now.astimezone(zone).date()
    day = due_at.astimezone(zone).date()
    if day < today:
        raise ValidationError(
            f"due_at {day.isoformat()} is before today ({today.isoformat()}); "
            "a new task is due today or later",
            field="due_at",
        )


def complete_task(
    deal_id: int,
    task_id: int,
    *,
    by: User | None,
    expected_version: int | None = None,
) -> Activity:
    """Mark a deal's open task done: its next-step clock is met, and criteria
    that ask for a held task count it.

    `expected_version` is the version of the deal the caller read (the deal
    page's form sends it): a deal changed since (moved, closed, given to
    someone else, edited) is a Conflict naming both versions, and nothing
    is done. A task done already is a Conflict too, saying who did it; from
    the page, one done by the same person (a second click) is no news."""
    with transaction.atomic():
        deal = Deal.objects.select_for_update().filter(pk=deal_id).first()
        if deal is None:
            raise NotFound(f"no deal with id {deal_id}")
        check_may_change(by, deal)
        if expected_version is not None and deal.version != expected_version:
            raise Conflict(
                f"deal {deal_id} changed since you loaded it (your version "
                f"{expected_version}, now {deal.version}); nothing was done. "
                "Reload it and mark the task done if you still mean to"
            )
        task = Activity.objects.filter(
            pk=task_id, deal=deal, kind=Activity.Kind.TASK
        ).first()
        if task is None:
            raise NotFound(f"deal {deal_id} has no task {task_id}")
        if task.done:
            raise Conflict(
                f"task {task_id} on deal {deal_id} is done already: marked done "
                f"by {task_doer(task.done_by_id)}",
                field="task",
            )
        task.done = True
        task.done_at = timesource.now()
        task.done_by = by
        task.save(update_fields=["done", "done_at", "done_by"])
    log.info("deal %s: task %s done by %s", deal_id, task_id, _who(by))
    return task


def criteria_tags(pipeline: Pipeline) -> list[str]:
    """The activity tags the pipeline's criteria ask for, sorted, so a form
    can offer them: the tag of every held(kind, tag) in a stage's criteria."""
    found = set()
    for stage in active_stages(pipeline):
        for data in (stage.entry_criteria, stage.exit_criteria):
            for item in criteria_set(data).items:
                found.update(map(crit.tag_key, _HELD_TAG.findall(item.rule)))
    return sorted(found)
