"""A rule whose person may no longer sign in (or does not exist) places no
lead, and the reason says which of its people is inactive or unknown, not
only that the rule has "no active people"."""

from __future__ import annotations

import pytest

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.leads.services import capture_lead

from .conftest import inquiry

START = timesource.parse_as_of("2026-06-03T09:00:00+00:00")


@pytest.fixture
def falls_back_to_max(routed, max_manager):
    routed.settings = {
        "routing": [
            {"name": "DACH", "when": {"country": ["DE"]}, "to": "user:alice"},
            {"name": "rest", "to": "user:max", "fallback": True},
        ]
    }
    routed.save()
    return routed


def test_a_fallback_to_an_inactive_manager_says_they_are_inactive(
    falls_back_to_max, max_manager
):
    User.objects.filter(pk=max_manager.pk).update(is_active=False)

    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(country="FR"), source="api").lead

    assert lead.owner is None
    assert lead.routing_reason == (
        'no rule could place the lead: rule "rest" (routing[1]): max is inactive '
        "(may no longer sign in)"
    )


def test_a_rule_naming_someone_unknown_says_there_is_no_such_user(
    falls_back_to_max, alice
):
    falls_back_to_max.settings["routing"][0]["to"] = ["user:alice", "user:ghost"]
    falls_back_to_max.save()
    User.objects.filter(pk=alice.pk).update(is_active=False)

    with timesource.frozen_at(START):
        lead = capture_lead(inquiry(), source="api").lead

    assert lead.routing_reason.endswith(
        'Passed over: rule "DACH" (routing[0]): alice is inactive (may no longer '
        "sign in); no user ghost"
    )
    assert lead.rule == "rest"
