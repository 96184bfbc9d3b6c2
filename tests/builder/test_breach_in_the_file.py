"""Breach actions set in the builder are in the pipeline file: the draft's
file carries a stage's `on_breach`, and so does the export once applied,
beside the `[breach]` keys the builder keeps as they are."""

from __future__ import annotations

from dealgate.core.pipeline_file import parse_pipeline
from tests.builder.conftest import post

FORM = {
    "name": "Proposal requested",
    "buyer_action": "After the call, the buyer asked for a written proposal",
    "owner": "deal-owner",
    "age_limit_days": "10",
    "probability": "35",
    "exit_criteria_mode": "all",
    "on_breach": ["mark_at_risk", "task"],
}


def stage_block(text: str, key: str) -> str:
    start = text.index(f'[[stages]]\nkey = "{key}"')
    return text[start : text.index("\n\n", start)]


def test_breach_actions_set_in_the_builder_are_in_the_drafts_file(
    admin_client, it_services
):
    post(admin_client, "/pipelines/it-services/edit/stages/proposal/", FORM)

    text = admin_client.get("/pipelines/it-services/pipeline.toml?draft=1").content
    text = text.decode()

    assert 'on_breach = ["mark_at_risk", "task"]' in stage_block(text, "proposal")
    assert "\n[breach]\n" in text
    proposal = next(s for s in parse_pipeline(text).stages if s.key == "proposal")
    assert proposal.breach == {"on_breach": ["mark_at_risk", "task"]}


def test_an_applied_builder_breach_action_is_exported(admin_client, it_services):
    post(admin_client, "/pipelines/it-services/edit/stages/proposal/", FORM)
    post(admin_client, "/pipelines/it-services/apply/")

    text = admin_client.get("/pipelines/it-services/pipeline.toml").content.decode()

    assert 'on_breach = ["mark_at_risk", "task"]' in stage_block(text, "proposal")
    assert 'on_breach = ["mark_at_risk", "notify", "escalate"]' in text
