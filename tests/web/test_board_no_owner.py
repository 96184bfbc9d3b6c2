"""The board's owner filter offers the deals no one owns: their clocks run
and breach like any others', so the board must be able to show them alone."""

from __future__ import annotations

import pytest

from dealgate.core.numbers import Place
from dealgate.deals.models import Deal
from dealgate.deals.queries import NO_OWNER

from .helpers import make_deal, text_of


@pytest.fixture
def signed_in(client, olivia):
    client.force_login(olivia)
    return client


def test_the_no_owner_filter_shows_only_the_deals_no_one_owns(
    signed_in, pipeline, alice, now
):
    make_deal(pipeline, "inquiry", title="Orphan", owner=None, value=300)
    make_deal(pipeline, "inquiry", title="Alice's", owner=alice, value=700)

    response = signed_in.get("/", {"owner": NO_OWNER.username})

    text = text_of(response)
    assert "Orphan" in text and "Alice's" not in text
    assert "1 open deal owned by no one · $300" in text
    assert f'<option value="{NO_OWNER.username}" selected>No owner</option>' in (
        response.content.decode()
    )


def test_more_cards_of_a_column_keep_the_no_owner_filter(
    signed_in, pipeline, alice, now
):
    for n in range(3):
        make_deal(pipeline, "inquiry", title=f"Orphan {n}", owner=None)
    make_deal(pipeline, "inquiry", title="Alice's", owner=alice)
    first = Deal.objects.get(title="Orphan 0")
    after = Place(first.stage_entered_at, first.pk)

    page = signed_in.get(
        "/board/column/",
        {"stage": "inquiry", "owner": NO_OWNER.username, "after": str(after)},
        HTTP_HX_REQUEST="true",
    )

    text = text_of(page)
    assert "Orphan 1" in text and "Orphan 2" in text
    assert "Orphan 0" not in text and "Alice's" not in text


def test_everyone_offers_no_owner_and_nothing_is_chosen(signed_in, pipeline, now):
    page = signed_in.get("/").content.decode()

    assert f'<option value="{NO_OWNER.username}">No owner</option>' in page
