"""A `created_since` that reads as a time but lies past the range a
database's times hold once turned into UTC (the year 1 at +01:00, the year
9999 at -01:00) is a 422 naming the parameter, or an answer, never a 500:
SQLite's adapter overflowed converting it."""

from __future__ import annotations

import pytest

from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(alice) -> dict[str, str]:
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("path", ["/api/v1/deals", "/api/v1/leads"])
@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00%2B01:00", "9999-12-31T23:59:59-01:00"]
)
def test_a_created_since_past_the_range_of_times_is_no_server_error(
    client, pipeline, headers, path, since
):
    response = client.get(f"{path}?created_since={since}", headers=headers)

    assert response.status_code in (200, 422), response.content
    if response.status_code == 422:
        assert response.json()["field"] == "created_since"


@pytest.mark.parametrize("path", ["/api/v1/deals", "/api/v1/leads"])
def test_a_created_since_written_as_a_number_is_refused_as_not_iso_8601(
    client, pipeline, headers, path
):
    """The README: `created_since` is ISO 8601, and a body's date is never
    read as seconds since 1970; the list read 1496275200 as 2017-06-01."""
    response = client.get(f"{path}?created_since=1496275200", headers=headers)

    assert response.status_code == 422, response.content
    assert response.json()["field"] == "created_since"


@pytest.mark.parametrize(
    ("since", "says"),
    [
        ("1496275200", "must be an ISO 8601 datetime"),
        ("yesterday", "must be an ISO 8601 datetime"),
        ("0001-01-01T00:00:00%2B01:00", "outside the years 1 to 9999"),
    ],
)
def test_a_refused_created_since_says_what_it_takes(
    client, pipeline, headers, since, says
):
    response = client.get(f"/api/v1/deals?created_since={since}", headers=headers)

    assert response.status_code == 422
    assert response.json()["message"].startswith("created_since: ")
    assert says in response.json()["message"]
