"""Reading and storing a pipeline's routing rules (`Pipeline.settings["routing"]`).

The format is `dealgate.core.routing`'s; here the people and teams a rule
names are also checked against the database, so a typo in a username is
refused when the rules are saved rather than found when a lead arrives.
"""

from __future__ import annotations

import logging
from typing import Any

import tomlkit

from dealgate.accounts.models import Team, User
from dealgate.core import routing
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline

from .assign import ROUTING_KEY

log = logging.getLogger("dealgate.leads")


def check_rules(items: Any) -> list[routing.Rule]:
    """Parse `[[routing]]` tables and check every person and team they name.

    Raises ValidationError whose field is the rule's path, e.g.
    `routing[1].to`.
    """
    try:
        rules = routing.parse_rules(items)
    except ValueError as exc:
        path, _, _ = str(exc).partition(":")
        raise ValidationError(str(exc), field=path) from None
    usernames = set(
        User.objects.filter(is_active=True).values_list("username", flat=True)
    )
    teams = set(Team.objects.values_list("name", flat=True))
    for rule in rules:
        where = f"routing[{rule.index}]"
        if rule.target.kind == "team" and rule.target.names[0] not in teams:
            raise ValidationError(
                f"{where}.to: no team {rule.target.names[0]!r}", field=f"{where}.to"
            )
        if rule.target.kind != "team":
            for name in rule.target.names:
                if name not in usernames:
                    raise ValidationError(
                        f"{where}.to: no active user {name!r}", field=f"{where}.to"
                    )
    return rules


def save_rules(
    pipeline: Pipeline, items: Any, *, dry_run: bool = False
) -> list[routing.Rule]:
    """Check the rules and, unless `dry_run`, store them on the pipeline.

    Rotation state is kept per rule name, so renaming a rule starts its
    rotation afresh; editing its conditions or people does not.
    """
    rules = check_rules(items)
    if not dry_run:
        settings = dict(pipeline.settings or {})
        settings[ROUTING_KEY] = routing.rules_to_dicts(rules)
        pipeline.settings = settings
        pipeline.save(update_fields=["settings", "updated_at"])
        log.info("pipeline %s: %d routing rule(s) stored", pipeline.key, len(rules))
    return rules


def dump_rules(pipeline: Pipeline) -> str:
    """The pipeline's rules as `[[routing]]` TOML tables ("" when none)."""
    items = (pipeline.settings or {}).get(ROUTING_KEY) or []
    if not items:
        return ""
    return tomlkit.dumps({ROUTING_KEY: items})
