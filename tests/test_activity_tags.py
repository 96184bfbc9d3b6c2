"""Activity tags are one tag whatever their case (`core.criteria.tag_key`).

An email tagged FIRST-REPLY once stayed as typed and held('email',
'first-reply') stayed unmet. Tags are now stored in lower case, activities
reach rules in lower case, and a rule's tags are read in lower case.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from dealgate.builder.rules import Choice, criterion_from
from dealgate.core.criteria import CriteriaSet, Criterion, evaluate, tag_key
from dealgate.deals import services
from dealgate.deals.models import Activity
from tests.core.test_criteria import make_context
from tests.web.helpers import make_deal

FIRST_REPLY = {"label": "We replied", "rule": "held('email', 'first-reply')"}


@pytest.fixture
def gated(pipeline):
    inquiry = pipeline.stages.get(key="inquiry")
    inquiry.exit_criteria = [FIRST_REPLY]
    inquiry.save()
    return pipeline


@pytest.fixture
def deal(gated, alice, now):
    return make_deal(gated, "inquiry", owner=alice)


def holds(rule: str, tag: str) -> bool:
    activity = {"kind": "email", "tag": tag, "done": True, "at": make_context()["now"]}
    context = make_context(activities=[activity])
    criteria = CriteriaSet("all", [Criterion("the rule", rule)])
    return evaluate(criteria, context).passed


def test_a_tag_key_is_the_tag_in_lower_case_without_outer_spaces():
    assert tag_key(" FIRST-Reply ") == "first-reply"


def test_an_activity_tagged_in_capitals_is_stored_in_lower_case_and_meets_the_gate(
    client, alice, deal
):
    client.force_login(alice)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/activities",
        {"kind": "email", "subject": "Replied", "tag": "FIRST-REPLY"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["tag"] == "first-reply"
    assert Activity.objects.get().tag == "first-reply"
    moved = client.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "discovery", "version": deal.version},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content


@pytest.mark.parametrize(
    "rule",
    [
        "held('email', 'First-Reply')",
        'activities.exists(a, a.tag == "FIRST-REPLY" && a.done)',
        'activities.exists(a, "First-reply" == a.tag)',
        'activities.exists(a, a.tag in ["Objection", "First-Reply"])',
    ],
)
@pytest.mark.parametrize("tag", ["first-reply", "FIRST-REPLY"])
def test_a_rule_meets_a_tag_whatever_case_either_writes_it_in(rule, tag):
    assert holds(rule, tag)


def test_a_rule_s_other_strings_keep_their_case():
    assert not holds("activities.exists(a, a.kind == 'EMAIL')", "first-reply")


def test_a_tag_stored_before_in_capitals_meets_the_gate(deal, now):
    Activity.objects.create(
        deal=deal, kind="email", subject="Replied", tag="First-Reply", done=True, at=now
    )

    assert services.check_move(deal, "discovery", now=now).unmet == []


def test_the_migration_puts_stored_tags_in_lower_case(deal, now):
    for tag in ("FIRST-REPLY", "discovery", ""):
        Activity.objects.create(
            deal=deal, kind="email", subject="s", tag=tag, done=True, at=now
        )
    migration = import_module("dealgate.deals.migrations.0013_activity_tags_lower_case")

    migration.lower_tags(apps, connection.schema_editor())

    tags = Activity.objects.order_by("pk").values_list("tag", flat=True)
    assert list(tags) == ["first-reply", "discovery", ""]


def test_the_deal_page_offers_the_criteria_s_tags_in_lower_case(gated):
    stage = gated.stages.get(key="discovery")
    stage.exit_criteria = [{"label": "Met", "rule": "held('meeting', 'Discovery')"}]
    stage.save()

    assert services.criteria_tags(gated) == ["discovery", "first-reply"]


def test_the_builder_writes_a_held_tag_in_lower_case():
    spec = criterion_from(Choice("held", activity="email", tag="First-Reply"), ())

    assert spec.rule == 'held("email", "first-reply")'
