"""Breach actions per stage: what the sweeper does when a deal outstays a
stage's age limit.

They are part of the spec (a stage's `breach` keys, the pipeline's [breach]
table; see docs/pipeline-file.md), so a draft carries them and applying it
writes them like any other key. The builder edits only each stage's
`on_breach` list; every other breach key is kept as it is.
"""

from __future__ import annotations

from dataclasses import replace

from dealgate.clocks.rules import (
    ACTIONS,
    SEQUENCE,
    BreachRuleError,
    BreachRules,
    parse_rules,
)
from dealgate.core.breach_words import ACTION_LABELS, action_label
from dealgate.core.pipeline_file import PipelineSpec, breach_settings
from dealgate.errors import ValidationError

from .edits import day_of, stage_of


def action_choices() -> list[tuple[str, str]]:
    """(action, words) for every action the clocks know, in their order."""
    return [(action, action_label(action)) for action in ACTIONS]


def rules_of(spec: PipelineSpec) -> BreachRules:
    """The spec's breach rules; the defaults when they do not load (a page
    must still show, and applying refuses such rules anyway)."""
    try:
        return parse_rules(breach_settings(spec), day_of(spec))
    except BreachRuleError:
        return BreachRules()


def own_actions(spec: PipelineSpec) -> dict[str, list[str]]:
    """Stage key -> the actions it sets itself (stages using the default are
    left out)."""
    return {
        stage.key: list(stage.breach["on_breach"])
        for stage in spec.stages
        if "on_breach" in stage.breach
    }


def with_actions(
    spec: PipelineSpec, stage_key: str, actions: list[str] | None
) -> PipelineSpec:
    """`spec` with the stage's own `on_breach` set (None: the pipeline's
    default). Raises ValidationError when the rules would not load."""
    stage = stage_of(spec, stage_key)
    own = {k: v for k, v in stage.breach.items() if k != "on_breach"}
    steps = own.get("sequence") or spec.breach.get("sequence")
    if actions and SEQUENCE in actions and not steps:
        raise ValidationError(
            f"{ACTION_LABELS[SEQUENCE]!r} needs the sequence's steps, and they "
            "are edited in the file: open Edit as a file, give the stage (or "
            "[breach]) a sequence = [...] of steps, then choose it here",
            field="on_breach",
        )
    if actions is not None:
        own["on_breach"] = list(actions)
    stage = replace(stage, breach=own)
    changed = replace(
        spec,
        stages=tuple(stage if s.key == stage_key else s for s in spec.stages),
    )
    try:
        parse_rules(breach_settings(changed), day_of(changed))
    except BreachRuleError as exc:
        raise ValidationError(str(exc), field="on_breach") from None
    return changed
