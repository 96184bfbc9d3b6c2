"""Faults found by trying Dealgate as a new firm's owner would (helper gil).

Each test states what should hold; the xfail mark comes off when the product
is mended.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.web.helpers import make_deal, text_of


@pytest.fixture
def signed_in(client, olivia):
    client.force_login(olivia)
    return client


@pytest.mark.xfail(
    strict=True,
    reason="the bottlenecks page's oldest deals leave the owner cell empty for "
    "a deal nobody owns, where the board says 'no owner'",
)
def test_the_oldest_deals_in_a_bottleneck_say_when_no_one_owns_one(
    signed_in, pipeline, alice, now
):
    make_deal(pipeline, "inquiry", title="Network Gulf", owner=None, days_in_stage=3)
    make_deal(pipeline, "inquiry", title="Firewall for Echo", owner=alice)
    make_deal(pipeline, "discovery", title="Laptops for Foxtrot", owner=alice)

    text = text_of(signed_in.get(reverse("insights:bottlenecks")))

    row = re.search(r"Inquiry received Network Gulf\s*(\D*?)\s*\d{4}-\d{2}-\d{2}", text)
    assert row is not None, text
    assert row.group(1) == "no owner"


@pytest.mark.xfail(
    strict=True,
    reason="Today for someone who left says there is no one called them, "
    "though they exist and their closed deals still name them",
)
def test_today_for_someone_who_left_says_they_left_not_that_no_one_has_the_name(
    signed_in, alice, now
):
    alice.is_active = False
    alice.save()

    text = text_of(signed_in.get(reverse("today"), {"person": "alice"}))

    assert "no one called 'alice'" not in text
    assert "Alice Rep" in text
