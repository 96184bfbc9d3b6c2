"""Small pipeline specs for the design review's tests: five stages the
review passes, each left by a step of its own, with a handoff into each."""

from __future__ import annotations

from dataclasses import replace

from dealgate.core.pipeline_file import (
    CriterionSpec,
    HandoffSpec,
    LossReasonSpec,
    PipelineSpec,
    StageSpec,
)
from dealgate.core.review import Finding

KEYS = ["inquiry", "discovery", "proposal", "review", "contract"]
LOSS_REASONS = (LossReasonSpec("price", "Price too high"),)


def stage(key: str, **changes) -> StageSpec:
    made = StageSpec(
        key=key,
        name=f"{key.title()} requested",
        buyer_action="The buyer asked",
        owner="deal-owner",
        age_limit_days=5,
        probability=20,
        # Each stage is left by a step of its own (the same exit criteria in
        # two stages is a finding).
        exit_criteria=(CriterionSpec("Done", f"held('meeting', '{key}')"),),
    )
    return replace(made, **changes)


def spec(stages=None, handoffs=None, **changes) -> PipelineSpec:
    """The spec of `stages` (by default one `stage` per key), with a handoff
    from a new lead into the first and from each stage into the next, and
    one loss reason."""
    stages = stages or [stage(key) for key in KEYS]
    keys = [one.key for one in stages]
    if handoffs is None:
        handoffs = [
            HandoffSpec(start, end, 60)
            for start, end in zip(["lead", *keys], keys, strict=False)
        ]
    return PipelineSpec(
        key="p",
        name="P",
        stages=tuple(stages),
        calendar={"timezone": "UTC", "always_open": True},
        handoffs=tuple(handoffs),
        **{"loss_reasons": LOSS_REASONS, **changes},
    )


def spec_with(*changed: StageSpec, **changes) -> PipelineSpec:
    """The five-stage spec with `changed` stages put in place of those with
    their keys."""
    by_key = {one.key: one for one in changed}
    return spec([by_key.get(key) or stage(key) for key in KEYS], **changes)


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(finding.code, ".".join(map(str, finding.path))) for finding in findings]
