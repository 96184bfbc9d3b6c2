"""The inbox shows the first rows of each section: every further lead must
still be reachable from it, or a manager cannot assign the newest leads."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

import pytest

from dealgate.leads import views
from dealgate.leads.models import Lead
from dealgate.leads.services import assign_lead, capture_lead
from dealgate.leads.views import INBOX_ROWS
from tests.web.helpers import text_of

from .conftest import inquiry


def test_a_new_lead_past_the_inbox_rows_is_reachable_from_the_inbox(
    client, pipeline, max_manager
):
    for n in range(1, INBOX_ROWS + 2):
        capture_lead(inquiry(n), source="api")
    newest = f"Person {INBOX_ROWS + 1}"
    client.force_login(max_manager)

    page = client.get("/leads/")
    pages = [text_of(page)] + [
        text_of(client.get(href.replace("&amp;", "&")))
        for href in set(
            re.findall(r'href="(/leads/(?:more/)?\?[^"]+)"', page.content.decode())
        )
    ]

    assert "New, waiting for an owner (101)" in pages[0]
    assert any(re.search(rf"\b{newest}\b", text) for text in pages)


@pytest.fixture
def three_new(pipeline, monkeypatch):
    """Three new leads and an inbox that shows two rows a section."""
    monkeypatch.setattr(views, "INBOX_ROWS", 2)
    for n in range(1, 4):
        capture_lead(inquiry(n), source="api")


def _more_link(page) -> str:
    """The address the first "more" row of `page` fetches for htmx."""
    found = re.search(r'hx-get="(/leads/more/\?[^"]+)"', page.content.decode())
    assert found, "no more link"
    return found.group(1).replace("&amp;", "&")


def test_the_rest_of_a_section_comes_in_place_of_its_more_row_for_htmx(
    client, three_new, max_manager
):
    client.force_login(max_manager)
    inbox = client.get("/leads/")
    assert "and 1 more" in text_of(inbox)
    second = Lead.objects.get(name="Person 2")
    place = f"{second.created_at.isoformat()},{second.pk}"
    assert (
        _more_link(inbox)
        == f"/leads/more/?{urlencode({'section': 'new', 'after': place})}"
    )

    rows = client.get(_more_link(inbox), HTTP_HX_REQUEST="true")

    text = text_of(rows)
    assert "Person 3" in text and "Person 2" not in text
    assert "<html" not in rows.content.decode() and "more" not in text


def test_the_rest_of_a_section_is_a_page_of_its_own_without_htmx(
    client, three_new, max_manager
):
    client.force_login(max_manager)

    text = text_of(client.get(_more_link(client.get("/leads/"))))

    assert "New, waiting for an owner" in text and "3 to 3 of 3" in text
    assert "Person 3" in text and "Back to the inbox" in text


def test_a_further_page_keeps_the_inbox_filters(client, three_new, max_manager):
    client.force_login(max_manager)

    page = client.get("/leads/", {"pipeline": "new-business"})

    assert _more_link(page).startswith(
        "/leads/more/?pipeline=new-business&section=new&after="
    )


@pytest.mark.parametrize(
    ("address", "status", "says"),
    [
        ("/leads/?pipeline=nope", 404, "pipeline: no pipeline 'nope'"),
        ("/leads/more/?section=new&pipeline=nope", 404, "no pipeline 'nope'"),
        ("/leads/?owner=nobody", 400, "owner: there is no user 'nobody'"),
        ("/leads/more/?section=lost", 400, "section must be one of new, assigned"),
        ("/leads/more/?section=new&after=-1", 400, "after must be a place"),
        ("/leads/more/?section=new&after=2026-06-01T09:00:00,1", 400, "after must"),
        ("/leads/more/?section=new&after=yesterday,1", 400, "after must be a place"),
        ("/leads/more/?section=new&after=0001-01-01T00:00%2B01:00,1", 400, "after"),
    ],
)
def test_every_bad_inbox_filter_shows_the_site_page_with_its_message(
    client, pipeline, max_manager, address, status, says
):
    client.force_login(max_manager)

    response = client.get(address)

    assert response.status_code == status
    assert 'class="topbar"' in response.content.decode()
    assert says in text_of(response)


def test_a_lead_assigned_from_the_first_rows_does_not_hide_one_from_the_next(
    client, three_new, max_manager, alice
):
    """Once a lead of the first rows is assigned, every later lead moves up
    one: the "more" link read before still starts right after the last row
    shown, not past the lead that took the freed place."""
    client.force_login(max_manager)
    first = client.get("/leads/")
    assert "Person 1" in text_of(first) and "Person 3" not in text_of(first)
    lead = Lead.objects.get(name="Person 1")
    assign_lead(lead.pk, alice, by=max_manager)

    further = text_of(client.get(_more_link(first), HTTP_HX_REQUEST="true"))

    assert "Person 3" in further and "Person 2" not in further


def test_the_answered_more_link_follows_its_newest_first_order(
    client, three_new, max_manager, alice
):
    """Answered leads come newest answer first, and one answered at the
    same instant as another by id, highest first: the link continues in
    that order, on either database."""
    at = Lead.objects.get(name="Person 1").created_at
    for n, minutes in ((1, 5), (2, 10), (3, 5)):
        Lead.objects.filter(name=f"Person {n}").update(
            status=Lead.Status.ANSWERED,
            owner=alice,
            first_response_at=at + dt.timedelta(minutes=minutes),
        )
    client.force_login(max_manager)
    first = client.get("/leads/")
    shown = text_of(first)

    further = text_of(client.get(_more_link(first), HTTP_HX_REQUEST="true"))

    # Person 2 (answered last), then Person 3 (same time as 1, higher id).
    assert shown.index("Person 2") < shown.index("Person 3")
    assert "Person 1" not in shown.split("Answered", 1)[1]
    assert "Person 1" in further and "Person 3" not in further
