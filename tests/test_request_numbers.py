"""Numbers in query strings and forms: a bad one is refused in words (400,
or not found), never a server error, on every page that reads one."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Notice
from dealgate.leads.models import Lead
from tests.conftest import NOW
from tests.web.helpers import make_deal, text_of

# Past a 64-bit column (SQLite: "datatype mismatch"), and past what int() reads.
HUGE = ["99999999999999999999999", str(2**63), "9" * 5000]


@pytest.fixture
def signed_in(client, olivia, pipeline):
    client.force_login(olivia)
    return client


@pytest.mark.parametrize("number", HUGE)
def test_a_board_column_refuses_an_after_past_any_id(signed_in, number):
    after = f"2026-06-01T10:00:00+00:00,{number}"
    response = signed_in.get("/board/column/", {"stage": "review", "after": after})

    assert response.status_code == 400
    assert "after must be a place in the column" in response.content.decode()


def test_a_board_column_past_its_last_card_is_empty(signed_in, pipeline, now):
    make_deal(pipeline, "review", title="Only one")

    response = signed_in.get(
        "/board/column/",
        {"stage": "review", "after": f"9999-12-31T23:59:59+00:00,{2**63 - 1}"},
    )

    assert response.status_code == 200
    assert "Only one" not in text_of(response)


@pytest.mark.parametrize("number", HUGE)
def test_the_notices_page_refuses_an_after_past_any_id(signed_in, number):
    after = f"2026-06-01T10:00:00+00:00,{number}"
    response = signed_in.get("/notices/", {"after": after})

    assert response.status_code == 400
    assert "after must be a place in the notices" in response.content.decode()


@pytest.mark.parametrize("notice", [*HUGE, "²"])
def test_marking_a_notice_read_refuses_what_is_no_id(signed_in, notice):
    response = signed_in.post("/notices/read/", {"notice": notice})

    assert response.status_code == 400
    assert Notice.objects.count() == 0


@pytest.mark.parametrize("page", ["/insights/", "/insights/bottlenecks/"])
@pytest.mark.parametrize("field", ["team", "product"])
@pytest.mark.parametrize("value", ["²", *HUGE])
def test_insights_say_an_unknown_team_or_product_is_not_found(
    signed_in, now, page, field, value
):
    response = signed_in.get(page, {field: value})

    assert response.status_code == 404
    assert f"no {field}" in text_of(response)


def test_the_blueprint_refuses_thousands_of_digits_as_last(signed_in):
    response = signed_in.get("/pipelines/new-business/blueprint/", {"last": "9" * 5000})

    assert response.status_code == 400
    assert "last must be a whole number of closed deals" in response.content.decode()


@pytest.mark.parametrize("action", ["move", "edit"])
def test_a_deal_form_with_a_version_past_any_number_is_refused(
    signed_in, pipeline, now, action
):
    deal = make_deal(pipeline, "review")

    response = signed_in.post(
        f"/deals/{deal.pk}/{action}/",
        {"to": "contract", "title": "Renamed", "version": "9" * 5000},
    )

    assert response.status_code == 422
    assert "the form did not say which version it showed" in text_of(response)
    deal.refresh_from_db()
    assert (deal.stage.key, deal.title) == ("review", "Deal")


@pytest.mark.parametrize("number", ["²", "9" * 5000])
def test_merging_a_lead_into_what_is_no_id_says_how_to_name_it(
    signed_in, pipeline, number
):
    lead = Lead.objects.create(pipeline=pipeline, email="a@example.com", created_at=NOW)

    response = signed_in.post(f"/leads/{lead.pk}/merge/", {"into": f"deal {number}"})

    assert response.status_code == 422
    assert 'say what to merge into: "lead 12" or "deal 7"' in text_of(response)
    lead.refresh_from_db()
    assert lead.status != Lead.Status.MERGED


def test_a_lead_typed_in_with_thousands_of_digits_as_company_size_is_refused(
    signed_in, pipeline, now
):
    response = signed_in.post(
        "/leads/new/",
        {"email": "a@example.com", "company_size": "9" * 5000},
    )

    assert response.status_code == 422
    assert "is longer than any number here" in text_of(response)
    assert not Lead.objects.exists()
