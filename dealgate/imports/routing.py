"""Who must move many deals out of their stage, decided in memory.

`Responsible` decides as moves decide one deal at a time
(`dealgate.deals.services.responsible_for`): a person-owned stage names its
person; a team-owned stage goes to the active member responsible for the
fewest open deals (ties: the lowest id); otherwise the deal's owner. Each
team's members and their open-deal loads are read once, with one query, then
kept up to date as open deals are routed, so routing n deals costs one query
per team instead of one per deal. Imports and pipeline redesigns use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from dealgate.accounts.models import User
from dealgate.pipelines.models import Stage


class Responsible:
    """Routes deals entering `stages`; call it once per deal, in order."""

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.rules = {
            stage.pk: (stage.owner_kind, stage.owner_user_id, stage.owner_team_id)
            for stage in stages
        }
        self.loads: dict[int, dict[int, int]] = {}

    def __call__(
        self,
        stage_id: int,
        owner_id: Any,
        status: str,
        *,
        previous: int | None = None,
    ) -> int | None:
        """The responsible user's id for a deal in `stage_id` with `owner_id`
        and `status`. Only an open deal counts toward a member's load; one
        that was open and counted for `previous` stops counting there."""
        kind, user_id, team_id = self.rules[stage_id]
        if kind == Stage.OwnerKind.PERSON and user_id:
            return user_id
        if kind == Stage.OwnerKind.TEAM and team_id:
            loads = self.team(team_id)
            if loads:
                member = min(loads, key=lambda pk: (loads[pk], pk))
                if status == "open":
                    loads[member] += 1
                    if previous in loads:
                        loads[previous] -= 1
                return member
        return owner_id

    def team(self, team_id: int) -> dict[int, int]:
        """Active member id -> open deals they are responsible for."""
        if team_id not in self.loads:
            members = (
                User.objects.filter(team_id=team_id, is_active=True)
                .annotate(
                    load=Count(
                        "responsible_for", filter=Q(responsible_for__status="open")
                    )
                )
                .values_list("pk", "load")
            )
            self.loads[team_id] = dict(members)
        return self.loads[team_id]
