"""Deactivating someone a routing rule names says so and what routing does
now; routing names them as left when it skips them; and applying a file that
still names them says they are inactive and how to put it right."""

from __future__ import annotations

import logging

import pytest

from dealgate import timesource
from dealgate.accounts.services import change_user
from dealgate.core.pipeline_file import PipelineFileError, parse_pipeline
from dealgate.leads.services import capture_lead
from dealgate.pipelines.services import apply_pipeline
from tests.conftest import _user
from tests.leads.conftest import inquiry
from tests.test_pipeline_file import BASE, line_of

START = timesource.parse_as_of("2026-06-03T09:00:00+00:00")
RULES = [
    {
        "name": "DACH",
        "when": {"country": ["DE"]},
        "to": ["user:alice", "user:bob", "user:carl"],
        "how": "round-robin",
    },
    {"name": "rest", "to": "user:olivia", "fallback": True},
]


@pytest.fixture
def carl(django_user_model, team):
    return _user(django_user_model, "carl", "rep", team=team)


@pytest.fixture
def routed_to_three(pipeline, olivia, alice, bob, carl):
    pipeline.settings = {"routing": RULES}
    pipeline.save()
    return pipeline


def test_deactivating_someone_a_rule_names_warns_and_says_who_routing_uses(
    routed_to_three, carl, bob, caplog
):
    with caplog.at_level(logging.WARNING, logger="dealgate.accounts"):
        change_user("carl", active=False, hand_to="bob")

    assert (
        "routing rule 'DACH' (routing[0]) of pipeline new-business names carl: "
        "while they are inactive, routing skips them and gives its leads to "
        "alice, bob; name someone active in its [[routing]] table (pipeline "
        "apply refuses the file while it names carl)"
    ) in caplog.messages


def test_deactivating_the_only_person_of_a_fallback_says_leads_will_wait(
    routed_to_three, bob, alice, caplog
):
    routed_to_three.settings["routing"][1]["to"] = "user:bob"
    routed_to_three.save()
    with caplog.at_level(logging.WARNING, logger="dealgate.accounts"):
        change_user("bob", active=False, hand_to="alice")

    assert any(
        "routing rule 'rest' (routing[1]) of pipeline new-business names bob: "
        "while they are inactive, this fallback places no lead" in message
        for message in caplog.messages
    )


def test_routing_names_someone_who_left_among_those_it_skipped(routed_to_three, carl):
    change_user("carl", active=False)

    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(), source="api").lead

    assert lead.owner.username == "alice"
    assert lead.routing_reason.endswith("; skipped carl (left)")


def test_applying_a_file_naming_someone_inactive_says_so_and_how_to_fix_it(
    routed_to_three, carl
):
    change_user("carl", active=False)
    text = BASE + (
        '\n[[routing]]\nname = "DACH"\nto = ["user:alice", "user:carl"]\n'
        '\n[[routing]]\nname = "rest"\nto = "user:olivia"\nfallback = true\n'
    )

    with pytest.raises(PipelineFileError) as caught:
        apply_pipeline(parse_pipeline(text, "p.toml"))

    assert [str(p) for p in caught.value.problems] == [
        f"p.toml:{line_of(text, 'user:carl')}: routing[0].to: user 'carl' is "
        "inactive (may no longer sign in); name someone active in this rule, or "
        "let carl sign in again: dealgate user set carl --active"
    ]
