"""Reading and storing a pipeline's routing rules (`Pipeline.settings["routing"]`).

The format is `dealgate.core.routing`'s; here the people and teams a rule
names are also checked against the database, so a typo in a username is
refused when the rules are saved rather than found when a lead arrives.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import tomlkit
from django.db import transaction
from django.db.models import Q

from dealgate.accounts.models import Team, User
from dealgate.accounts.teams import TeamNames, team_spelling
from dealgate.core import routing
from dealgate.core.digests import content_digest
from dealgate.errors import Conflict, ValidationError
from dealgate.pipelines.models import Pipeline

from .assign import ROUTING_KEY

log = logging.getLogger("dealgate.leads")


def check_rules(items: Any) -> list[routing.Rule]:
    """Parse `[[routing]]` tables and check every person and team they name.

    Raises ValidationError naming every unknown one, whose field is the
    first one's path, e.g. `routing[1].to`.
    """
    try:
        rules = routing.parse_rules(items)
    except ValueError as exc:
        path, _, _ = str(exc).partition(":")
        raise ValidationError(str(exc), field=path) from None
    unknown = [
        (f"routing[{index}].to", reason) for index, reason in unknown_targets(rules)
    ]
    unknown += [
        (f"routing[{index}].weights.{name}", reason)
        for index, name, reason in unknown_weights(rules)
    ]
    if unknown:
        raise ValidationError(
            "; ".join(f"{path}: {reason}" for path, reason in unknown),
            field=unknown[0][0],
        )
    return team_spellings(rules)


def team_spellings(rules: list[routing.Rule]) -> list[routing.Rule]:
    """`rules` with each team they send leads to named as it is stored
    ("team:field sales" is "team:Field Sales"), so that routing a lead finds
    the team by its exact name. One query, none without a team rule."""
    if not any(rule.target.kind == "team" for rule in rules):
        return rules
    teams = TeamNames()
    return [
        replace(
            rule,
            target=replace(
                rule.target,
                names=tuple(team_spelling(n, teams) for n in rule.target.names),
            ),
        )
        if rule.target.kind == "team"
        else rule
        for rule in rules
    ]


def unknown_targets(
    rules: list[routing.Rule], *, fixes: bool = False
) -> list[tuple[int, str]]:
    """(rule index, reason) for each person the rules name who is not an
    active user and each team that no name finds, or several do
    (`accounts.teams`). With `fixes`, each reason ends saying how to put it
    right in a pipeline file: a person who left is named as such, with the
    command that lets them sign in again. Two queries."""
    wanted: dict[str, set[str]] = {"team": set(), "user": set()}
    for rule in rules:
        kind = "team" if rule.target.kind == "team" else "user"
        wanted[kind].update(rule.target.names)
    users = dict(
        User.objects.filter(username__in=wanted["user"]).values_list(
            "username", "is_active"
        )
    )
    teams = TeamNames() if wanted["team"] else None
    unknown = []
    for rule in rules:
        for name in rule.target.names:
            reason = ""
            if rule.target.kind == "team" and teams is not None:
                reason = teams.problem(name, missing=f"no team {name!r}")
            elif rule.target.kind != "team" and not users.get(name, False):
                reason = _no_active_user(name, name in users, fixes)
            if reason and fixes and name not in users:
                reason += f"; {NAME_YOUR_OWN}"
            if reason:
                unknown.append((rule.index, reason))
    return unknown


def unknown_weights(rules: list[routing.Rule]) -> list[tuple[int, str, str]]:
    """(rule index, weight's key, reason) for each weight of a team rule that
    names nobody in that team: a username no user has ("Raj" for raj, as
    usernames are matched exactly) or someone of another team. Such a weight
    would be passed over, and the person it meant would weigh 1. Each reason
    says who is in the team. Rules for a list of people are checked when
    read (`core.routing`); a team no name finds is `unknown_targets`'s to
    report. Two queries, none without a weighted team rule."""
    weighted = [r for r in rules if r.target.kind == "team" and r.weights]
    if not weighted:
        return []
    teams = TeamNames()
    found = {
        rule.index: _team_or_none(teams, rule.target.names[0]) for rule in weighted
    }
    names = {name for rule in weighted for name, _ in rule.weights}
    rows = User.objects.filter(
        Q(team__in=[t for t in found.values() if t is not None]) | Q(username__in=names)
    ).values_list("username", "team_id")
    team_of = dict(rows)
    unknown = []
    for rule in weighted:
        team = found[rule.index]
        if team is None:
            continue
        people = sorted(n for n, team_id in team_of.items() if team_id == team.pk)
        for name, _ in rule.weights:
            if team_of.get(name) != team.pk:
                reason = _not_in_team(name, team, people, name in team_of)
                unknown.append((rule.index, name, reason))
    return unknown


def _team_or_none(teams: TeamNames, name: str) -> Team | None:
    try:
        return teams.find(name)
    except ValidationError:
        return None


def _not_in_team(name: str, team: Team, people: list[str], exists: bool) -> str:
    """Why a weight's `name` is no one of `team`, and who is."""
    if exists:
        reason = f"{name} is not in team {team.name}"
    else:
        reason = f"no user {name!r}"
        alike = [p for p in people if p.casefold() == name.casefold()]
        if alike:
            reason += f" (usernames are matched exactly: {alike[0]}?)"
    if people:
        return f"{reason}; weights name its people by username: {', '.join(people)}"
    return f"{reason}; team {team.name} has nobody in it"


# How to put right a rule naming nobody the database has (as the example
# files do before they are edited).
NAME_YOUR_OWN = "edit [[routing]] to name your own team or person"


def _no_active_user(name: str, exists: bool, fixes: bool) -> str:
    if not exists:
        return f"no active user {name!r}"
    reason = f"user {name!r} is inactive (may no longer sign in)"
    if fixes:
        reason += (
            f"; name someone active in this rule, or let {name} sign in again: "
            f"dealgate user set {name} --active"
        )
    return reason


def save_rules(
    pipeline: Pipeline, items: Any, *, dry_run: bool = False, seen: str | None = None
) -> list[routing.Rule]:
    """Check the rules and, unless `dry_run`, store them on the pipeline,
    under its row lock. Given `seen`, the `rules_digest` of the rules the
    person edited, rules stored since by someone else are a Conflict and
    nothing is written.

    Rotation state is kept per rule name, so renaming a rule starts its
    rotation afresh; editing its conditions or people does not.
    """
    rules = check_rules(items)
    if dry_run:
        return rules
    with transaction.atomic():
        stored = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
        if seen is not None and rules_digest(stored) != seen:
            raise Conflict(
                f"the routing rules of pipeline {pipeline.key} changed since you "
                "opened them; nothing was saved"
            )
        settings = dict(stored.settings or {})
        settings[ROUTING_KEY] = routing.rules_to_dicts(rules)
        pipeline.settings = settings
        pipeline.save(update_fields=["settings", "updated_at"])
    log.info("pipeline %s: %d routing rule(s) stored", pipeline.key, len(rules))
    return rules


def rules_digest(pipeline: Pipeline) -> str:
    """A digest of the pipeline's rules as stored, which the rules editor
    shows and sends back to `save_rules` as `seen`."""
    return content_digest((pipeline.settings or {}).get(ROUTING_KEY) or [])


def dump_rules(pipeline: Pipeline) -> str:
    """The pipeline's rules as `[[routing]]` TOML tables ("" when none)."""
    items = (pipeline.settings or {}).get(ROUTING_KEY) or []
    if not items:
        return ""
    return tomlkit.dumps({ROUTING_KEY: items})
