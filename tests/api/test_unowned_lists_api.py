"""GET /api/v1/deals and /api/v1/leads with `owner=(none)` list the rows no
one owns, as the board's owner filter and the reports spell it (no username
holds parentheses): with the other filters and a page at a time, as any
owner filter. A username no one has is still refused naming `owner`."""

from __future__ import annotations

import pytest

from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(alice) -> dict[str, str]:
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    return {"Authorization": f"Bearer {secret}"}


def _ids(client, url: str, headers) -> list[int]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def _lead(pipeline, owner=None, status=Lead.Status.NEW) -> Lead:
    return Lead.objects.create(
        pipeline=pipeline,
        email=f"buyer{Lead.objects.count()}@example.com",
        owner=owner,
        status=status,
        created_at=NOW,
    )


def test_owner_none_lists_the_deals_no_one_owns(client, pipeline, alice, headers):
    unowned = make_deal(pipeline, "inquiry")
    make_deal(pipeline, "inquiry", owner=alice)
    won = make_deal(pipeline, "contract", status="won")

    assert _ids(client, "/api/v1/deals?owner=(none)", headers) == [
        unowned.pk,
        won.pk,
    ]
    assert _ids(client, "/api/v1/deals?owner=%28none%29&status=open", headers) == [
        unowned.pk
    ]
    assert _ids(client, "/api/v1/deals?owner=(none)&stage=contract", headers) == [
        won.pk
    ]


def test_the_unowned_deals_are_paged_with_the_filter_kept(
    client, pipeline, alice, headers
):
    unowned = []
    for n in range(5):
        unowned.append(make_deal(pipeline, "inquiry", title=f"Unowned {n}"))
        make_deal(pipeline, "inquiry", owner=alice)

    first = client.get("/api/v1/deals?owner=(none)&limit=2", headers=headers).json()
    seen = [deal["id"] for deal in first["items"]]
    following = first["next"]
    while following:
        assert "owner=%28none%29" in following
        page = client.get(following, headers=headers).json()
        seen += [deal["id"] for deal in page["items"]]
        following = page["next"]

    assert seen == [deal.pk for deal in unowned]


def test_owner_none_lists_the_leads_no_one_owns(client, pipeline, alice, headers):
    waiting = _lead(pipeline)
    _lead(pipeline, owner=alice, status=Lead.Status.ASSIGNED)
    dropped = _lead(pipeline, status=Lead.Status.DISQUALIFIED)

    assert _ids(client, "/api/v1/leads?owner=(none)", headers) == [
        waiting.pk,
        dropped.pk,
    ]
    assert _ids(client, "/api/v1/leads?owner=(none)&status=open", headers) == [
        waiting.pk
    ]
    page = client.get("/api/v1/leads?owner=(none)&limit=1", headers=headers).json()
    assert [lead["id"] for lead in page["items"]] == [waiting.pk]
    assert _ids(client, page["next"], headers) == [dropped.pk]


@pytest.mark.parametrize("kind", ["deals", "leads"])
@pytest.mark.parametrize("owner", ["nobody", "none", "(nobody)"])
def test_an_owner_no_one_is_called_is_still_refused_naming_it(
    client, pipeline, headers, kind, owner
):
    response = client.get(f"/api/v1/{kind}?owner={owner}", headers=headers)

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": f"owner: there is no user {owner!r}",
        "field": "owner",
    }
