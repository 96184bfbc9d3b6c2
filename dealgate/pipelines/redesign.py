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


Gate = tuple[str, str, Any]


def forward_gates(spec: PipelineSpec, row: Stage, target: str, low: int) -> list[Gate]:
    """The gates (title, kind, criteria as stored) of sending the deals of the
    removed stage `row` forward to `target`: `row`'s exit criteria as stored,
    those of the stages of `spec` from the one after `low` (`place`) up to
    the target unless `spec` allows skipping, and the target's entry
    criteria."""
    keys = spec.stage_keys()
    index = keys.index(target)
    gates: list[Gate] = [(row.name, "exit", row.exit_criteria)]
    if not spec.allow_skipping:
        gates += [(s.name, "exit", _exit_data(s)) for s in spec.stages[low + 1 : index]]
    end = spec.stages[index]
    gates.append((end.name, "entry", _items(end.entry_criteria)))
    return gates


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
    """Judge the open deals of each (removed stage, target, gates) in `moves`.

    Costs a query per stage for its deals, and per deal what `context_for`
    reads for the gates' rules; a manager's teams are read once."""
    verdict = Verdict()
    managed = None
    if by is not None and by.is_manager and by.role != User.Role.ADMIN:
        managed = managed_people(by)
    for row, _target, gates in moves:
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
                verdict.refusals.append(refused.message)
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
            verdict.refusals.append(
                f"deal {deal.pk} ({deal.title}): {'; '.join(missing)}"
            )
    return verdict


class GatesRefused(ValidationError):
    """Applying would send deals of removed stages forward past gates they
    do not meet, with no override that lifts them, or deals outside the
    teams of whoever applies. `problem` names the deals; `free` maps each
    removed stage sent too far to where its deals may go without gates.
    Each door adds how to act on it (`message_with`)."""

    code = "move_refused"

    def __init__(self, verdict: Verdict, free: dict[str, list[str]]) -> None:
        self.verdict, self.free = verdict, free
        count = len(verdict.refusals)
        named = "; ".join(verdict.refusals[:NAMED])
        if count > NAMED:
            named += f"; and {count - NAMED} more"
        self.problem = (
            f"{counted(count, 'deal')} of removed stages would "
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
        places = "; ".join(
            f"the deals of {old!r} may go to {', '.join(map(repr, keys))} without gates"
            for old, keys in self.free.items()
        )
        return "; ".join([*parts, places])

    def message_with(self, how: str) -> str:
        """The refusal, ending with `how` the person goes on."""
        return f"nothing applied: {self.problem}; {how}"
