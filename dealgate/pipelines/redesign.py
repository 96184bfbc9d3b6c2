"""Where a redesign may send the deals of a stage it removes, and the gates
of sending them further.

Removing a stage is no way around the gates a move passes. Its deals may go,
with no criteria checked, back to any stage at or before the nearest stage
kept before it, or to a stage the file adds between its kept neighbours (the
same place under a new key): where a deal stood, or the step that now stands
there. A stage that stood after the removed one already is a step forward,
gated as a move to it would be; only when no stage is kept before the
removed one does the first stage of the new order take its deals freely,
since there is nowhere earlier for them to go.

Sending them further is a forward move. Each open deal then needs, as a
move from the removed stage would, its exit criteria, those of every stage it
jumps over in the new order (unless the pipeline allows skipping) and the
target's entry criteria; unmet ones need a manager's override reason, and
a manager may send forward only deals of their teams (an admin any, the
system any but without an override). Closed deals keep their outcome and go
where they are sent: no gate applies to a deal that is no longer moving.

Nor is a new order a way around them. A stage whose open deals end up
standing after a stage that stood after them before (a reorder, a rename
into a later place, any mix of both, or a removed stage's deals sent to a
stage the new order put there) carries those deals forward past that
stage's gates without a move. Each such deal then needs the exit criteria
of every stage it now stands after and did not before (`carried_past`;
a stage added there too), as if it had moved past them; the same override
lifts unmet ones, for the same people, and its history says so. A stage that
moves earlier, or whose deals are all closed, passes no gate. When the
pipeline allows skipping, a deal could move from its stage straight past
any later stage with no criteria of the ones between, so the new order
carries it past nothing it would have to meet: a reorder is free there. So
is one past stages without exit criteria, since there is no gate to pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dealgate.accounts.models import User
from dealgate.core import criteria as crit
from dealgate.core.pipeline_file import CriterionSpec, PipelineSpec, StageSpec
from dealgate.core.text import counted, looks_blank
from dealgate.deals.models import Deal
from dealgate.deals.services import (
    MoveCheck,
    check_may_change,
    context_for,
    criteria_set,
    managed_people,
)
from dealgate.errors import PermissionDenied, ValidationError
from dealgate.pipelines.models import Stage

# How many of the deals a refusal names.
NAMED = 5


def place(order_before: Sequence[str], keys: Sequence[str], removed: str) -> int:
    """The index in `keys` (the new order) of the stage kept nearest before
    `removed` in `order_before` (the live stages' order before the redesign);
    -1 when none is kept before it."""
    before = order_before[: order_before.index(removed)]
    kept = [key for key in before if key in keys]
    return keys.index(kept[-1]) if kept else -1


def free_targets(
    order_before: Sequence[str], keys: Sequence[str], removed: str
) -> list[str]:
    """The stages of `keys` the deals of `removed` may go to with no gate
    checked (see the module's docstring), in the new order."""
    low = place(order_before, keys, removed)
    after = order_before[order_before.index(removed) + 1 :]
    kept_after = [keys.index(key) for key in after if key in keys]
    high = min(kept_after, default=len(keys))
    live = set(order_before)
    # A stage that stood after the removed one is a step forward wherever a
    # reordering puts it: never "back".
    ahead = set(after)
    return [
        key
        for index, key in enumerate(keys)
        if (index <= low and key not in ahead)
        or (low < 0 and index == 0)
        or (key not in live and low < index < high)
    ]


def carried_past(
    order_before: Sequence[str], keys: Sequence[str], source: str, dest: str
) -> list[str]:
    """The stages of `keys` (the new order) that the deals of `source` (a
    live stage of `order_before`), standing in `dest` after the redesign,
    are carried past: when `dest` now stands after a stage that stood after
    `source`, every stage before `dest` that did not stand before `source`
    (stages added there included), in the new order; else none."""
    at = order_before.index(source)
    before, after = set(order_before[:at]), set(order_before[at + 1 :])
    now_before = keys[: keys.index(dest)]
    if not any(key in after for key in now_before):
        return []
    return [key for key in now_before if key not in before and key != source]


def passed_by_move(
    order_before: Sequence[str], keys: Sequence[str], removed: str, target: str
) -> list[str]:
    """The stages of `keys` (the new order) that the deals of `removed`, sent
    to `target`, end up past, in the new order: sent where they may go with
    no gate (`free_targets`), those the new order carries them past
    (`carried_past`); sent further, every stage between the nearest kept
    before `removed` (`place`) and `target`, and those carried past. Their
    history names them whether or not an override was needed."""
    if target in free_targets(order_before, keys, removed):
        return carried_past(order_before, keys, removed, target)
    low = place(order_before, keys, removed)
    also = set(carried_past(order_before, keys, removed, target))
    return [
        key
        for at, key in enumerate(keys[: list(keys).index(target)])
        if at > low or key in also
    ]


Gate = tuple[str, str, Any]


def forward_gates(
    spec: PipelineSpec,
    row: Stage,
    target: str,
    low: int,
    also: Sequence[str] = (),
) -> list[Gate]:
    """The gates (title, kind, criteria as stored) of sending the deals of the
    removed stage `row` forward to `target`: `row`'s exit criteria as stored,
    those of the stages of `spec` from the one after `low` (`place`) up to
    the target, and of the stages in `also` (those a new order put before
    the target, `carried_past`), unless `spec` allows skipping, and the
    target's entry criteria."""
    keys = spec.stage_keys()
    index = keys.index(target)
    gates: list[Gate] = [(row.name, "exit", row.exit_criteria)]
    if not spec.allow_skipping:
        passed = [
            stage
            for at, stage in enumerate(spec.stages[:index])
            if at > low or stage.key in also
        ]
        gates += [(s.name, "exit", _exit_data(s)) for s in passed]
    end = spec.stages[index]
    gates.append((end.name, "entry", _items(end.entry_criteria)))
    return gates


def carried_gates(spec: PipelineSpec, passed: Sequence[str]) -> list[Gate]:
    """The gates of the stages `passed` (`carried_past`) that a new order
    carries deals past: their exit criteria in `spec`, those that have any;
    none when `spec` allows skipping (see the module's docstring)."""
    if spec.allow_skipping:
        return []
    wanted = set(passed)
    return [
        (stage.name, "exit", _exit_data(stage))
        for stage in spec.stages
        if stage.key in wanted and stage.exit_criteria
    ]


def _items(criteria: Iterable[CriterionSpec]) -> list[dict[str, str]]:
    return [{"label": c.label, "rule": c.rule} for c in criteria]


def _exit_data(stage: StageSpec) -> dict[str, Any]:
    return {"mode": stage.exit_criteria_mode, "items": _items(stage.exit_criteria)}


def unmet(deal: Deal, now: dt.datetime, gates: list[Gate]) -> list[str]:
    """The unmet criteria of `gates` for `deal`, in the words a refused move
    uses; one context of the deal serves them all."""
    check = MoveCheck(kind="forward")
    wanted = [(title, kind, criteria_set(data)) for title, kind, data in gates]
    wanted = [gate for gate in wanted if gate[2].items]
    if not wanted:
        return []
    rules = [item.rule for _, _, found in wanted for item in found.items]
    context = context_for(deal, now, rules=rules)
    for title, kind, found in wanted:
        check.evaluations.append((title, kind, crit.evaluate(found, context)))
    return check.unmet


@dataclass
class Verdict:
    """What sending deals forward found: `overridden` maps each deal moved
    past unmet gates by the override to its unmet criteria; `refusals` says,
    per deal, why it may not go (empty when all may)."""

    overridden: dict[int, list[str]] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    needs_reason: bool = False
    needs_manager: bool = False


def judge(
    moves: list[tuple[Stage, str, list[Gate]]],
    now: dt.datetime,
    by: User | None,
    reason: str,
) -> Verdict:
    """Judge the open deals of each (stage, where, gates) in `moves`: a
    removed stage's deals sent forward (`where` empty), or a stage's deals
    that a new order carries past gates (`where` says so, as its refusals
    do: "in 'met', now after 'quote'").

    Costs a query per stage for its deals, and per deal what `context_for`
    reads for the gates' rules; a manager's teams are read once."""
    verdict = Verdict()
    managed = None
    if by is not None and by.is_manager and by.role != User.Role.ADMIN:
        managed = managed_people(by)
    for row, where, gates in moves:
        deals = (
            Deal.objects.filter(stage=row, status=Deal.Status.OPEN)
            .select_related("pipeline", "stage", "owner", "organization", "contact")
            .select_related("product")
            .order_by("pk")
        )
        for deal in deals:
            try:
                check_may_change(by, deal, managed=managed)
            except PermissionDenied as refused:
                verdict.refusals.append(
                    f"{refused.message} ({where})" if where else refused.message
                )
                continue
            missing = unmet(deal, now, gates)
            if not missing:
                continue
            if looks_blank(reason):
                verdict.needs_reason = True
            elif by is None or not by.is_manager:
                verdict.needs_manager = True
            else:
                verdict.overridden[deal.pk] = missing
                continue
            place_said = f" {where}" if where else ""
            verdict.refusals.append(
                f"deal {deal.pk} ({deal.title}){place_said}: {'; '.join(missing)}"
            )
    return verdict


class GatesRefused(ValidationError):
    """Applying would send deals of removed stages forward past gates they
    do not meet, or carry deals past them by a new order (`carried_past`),
    with no override that lifts them, or deals outside the teams of whoever
    applies. `problem` names the deals; `free` maps each removed stage sent
    too far to where its deals may go without gates; `carried` maps each
    stage whose deals a new order would carry past gates to those stages.
    Each door adds how to act on it (`message_with`)."""

    code = "move_refused"

    def __init__(
        self,
        verdict: Verdict,
        free: dict[str, list[str]],
        carried: dict[str, list[str]] | None = None,
    ) -> None:
        self.verdict, self.free = verdict, free
        self.carried = dict(carried or {})
        count = len(verdict.refusals)
        named = "; ".join(verdict.refusals[:NAMED])
        if count > NAMED:
            named += f"; and {count - NAMED} more"
        whose = (
            "of removed stages or of stages the new order puts later"
            if self.carried and free
            else "of stages the new order puts later"
            if self.carried
            else "of removed stages"
        )
        self.problem = (
            f"{counted(count, 'deal')} {whose} would "
            f"move forward past gates or outside your teams ({named})"
        )
        super().__init__(self.message_with(self.default_how()), field="moves")

    def default_how(self) -> str:
        """How to go on, in words every door may show."""
        parts = []
        if self.verdict.needs_reason:
            parts.append(
                "a manager may give a reason to override unmet criteria "
                "(for deals of their teams; an admin for any)"
            )
        if self.verdict.needs_manager:
            parts.append("only a manager or admin may override unmet criteria")
        parts += [
            f"the deals of {old!r} may go to {', '.join(map(repr, keys))} without gates"
            for old, keys in self.free.items()
        ]
        parts += [
            f"keep {key!r} before {', '.join(map(repr, passed))} in the order"
            for key, passed in self.carried.items()
        ]
        return "; ".join(parts)

    def message_with(self, how: str) -> str:
        """The refusal, ending with `how` the person goes on."""
        return f"nothing applied: {self.problem}; {how}"
