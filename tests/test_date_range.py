"""Every date a person gives keeps to one range of years (`core.dates`), at
every door, and a refusal names the field and the range: a typo such as
year 0001 never satisfies a criterion or dates a clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.core.calendar import Calendar, CalendarError
from dealgate.core.custom_fields import CustomField
from dealgate.core.dates import FIRST_YEAR, LAST_YEAR
from dealgate.deals import services
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal, text_of

RANGE = f"must lie between {FIRST_YEAR} and {LAST_YEAR}"


@pytest.fixture
def deal(pipeline, alice):
    pipeline.custom_fields = [
        {"key": "slot", "label": "Calendar slot confirmed", "type": "date"}
    ]
    pipeline.save()
    return make_deal(pipeline, "inquiry", title="Backup for Acme", owner=alice)


@pytest.mark.parametrize("text", ["0001-05-04", "1900-12-31", "2199-01-01"])
def test_a_custom_date_outside_the_years_is_refused_naming_the_range(text):
    with pytest.raises(ValueError, match=RANGE):
        CustomField("slot", "Slot", "date").from_text(text)


@pytest.mark.parametrize("text", ["1901-01-01", "2198-12-31"])
def test_the_first_and_last_years_are_taken(text):
    assert CustomField("slot", "Slot", "date").from_text(text) == text


def test_the_api_refuses_a_custom_date_of_year_one_naming_the_field(
    client, deal, alice
):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"custom": {"slot": "0001-05-04"}, "version": deal.version},
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "custom.slot"
    assert RANGE in body["message"]
    deal.refresh_from_db()
    assert "slot" not in deal.custom


def test_the_deal_page_refuses_a_custom_date_of_year_one_at_its_input(
    client, deal, alice
):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, "custom:slot": "0001-05-04"},
    )

    assert response.status_code == 422
    assert f"Calendar slot confirmed: {RANGE}" in text_of(response)


def test_a_task_due_in_year_one_is_refused_naming_due_at_and_the_range(deal, alice):
    with pytest.raises(ValidationError, match=f"due_at {RANGE}") as refused:
        services.log_activity(
            deal.pk,
            kind="task",
            subject="Send the quote",
            due_at=dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
            by=alice,
        )

    assert refused.value.field == "due_at"


def test_an_expected_close_date_keeps_to_the_same_range(deal, alice):
    with pytest.raises(ValidationError, match=f"expected_close_date {RANGE}"):
        services.update_deal(
            deal.pk,
            {"expected_close_date": dt.date(2199, 1, 1)},
            by=alice,
            expected_version=deal.version,
        )


def test_a_calendar_closed_day_outside_the_years_is_refused_naming_its_key():
    table = {"timezone": "UTC", "closed_days": ["0001-12-24"]}

    with pytest.raises(CalendarError, match=f"calendar.closed_days: .*{RANGE}"):
        Calendar.from_dict(table)


def test_an_as_of_date_outside_the_years_is_refused():
    with pytest.raises(ValueError, match=f"as-of {RANGE}"):
        timesource.parse_as_of("0001-01-01")
