"""Finding a team by the name a person typed: one rule for every door.

The `dealgate team` and `user` commands, the admin, pipeline files
(`owner = "team:..."`, a handoff's `responsible`), the builder and routing
rules all find a team as `core.names.name_key` compares names: the exact
spelling first, else ignoring case, spacing and invisible characters, so
"field  sales" finds "Field Sales". A new team's name is tidied
(`names.tidy_name`) and refused when it shares a key with one already there.

Databases from before this rule may hold two teams whose names share a key
("Field Sales" and "field sales"). Neither is merged into the other: each is
still found by its exact spelling, and any other spelling of that name is
refused, naming both, rather than one of them picked.
"""

from __future__ import annotations

from dealgate.core.names import SharedName, name_key, one_named
from dealgate.errors import ValidationError

from .models import Team, User


class TeamNames:
    """Every team, loaded once (one query), to find several by name: a
    pipeline file or a set of routing rules names a few of a firm's few
    teams."""

    def __init__(self) -> None:
        self.teams = list(Team.objects.order_by("pk"))
        self.exact = {team.name: team for team in self.teams}

    def find(self, name: str, *, field: str = "team") -> Team | None:
        """The team `name` names: the one spelled so, else the one whose
        `name_key` it shares; None when there is none. Raises
        ValidationError naming `field` and each team's spelling when several
        share the key."""
        found = self.exact.get(name)
        if found is not None:
            return found
        try:
            return one_named(name, ((team, team.name) for team in self.teams))
        except SharedName as shared:
            raise ValidationError(
                f"{field}: {name!r} could be any of the teams {shared}; give "
                "the name as spelled (dealgate team list)",
                field=field,
            ) from None

    def problem(self, name: str, *, missing: str) -> str:
        """Why `name` finds no one team: `missing` when it finds none, the
        teams it could be when several; "" when it finds one."""
        try:
            found = self.find(name)
        except ValidationError as refused:
            return refused.detail
        return "" if found is not None else missing

    def sharing_key(self, name: str) -> list[Team]:
        """The teams whose name shares `name`'s key, its own spelling too."""
        key = name_key(name)
        return [team for team in self.teams if key and name_key(team.name) == key]


def find_team(name: str, *, field: str = "team") -> Team | None:
    """`TeamNames().find(name)`, with one query when the spelling is exact."""
    found = Team.objects.filter(name=name).first()
    if found is not None:
        return found
    return TeamNames().find(name, field=field)


def team_spelling(name: str, names: TeamNames) -> str:
    """The stored spelling of the team `name` names, for text that names a
    team (a handoff's "team:NAME", a routing rule's target): kept so, an
    exact match finds it later. `name` itself when no single team has it;
    the checks that refuse such a name run before this."""
    try:
        found = names.find(name)
    except ValidationError:
        return name
    return found.name if found is not None else name


def make_lead(team: Team, person: User) -> list[Team]:
    """Make `person` the manager of `team`, and a member of it: one team at
    a time, so the teams they led before are left without a manager and
    returned. The caller has checked that they may lead one."""
    left = list(Team.objects.filter(manager=person).exclude(pk=team.pk))
    Team.objects.filter(pk__in=[t.pk for t in left]).update(manager=None)
    person.team = team
    person.save(update_fields=["team"])
    team.manager = person
    team.save(update_fields=["manager"])
    return left
