"""An API token whose scope opens the deals (`leads,deals`) opens the deals
API as it opens the leads API: the request acts as the token's user, with
exactly their permissions (the services' checks a signed-in person meets),
and needs no CSRF token. A signed-in session still sends its CSRF token
with every change. A `leads` token there is refused: test_token_scopes_api.

The README offered POST /api/v1/deals and PATCH /api/v1/deals/ID to
integrators, while a token there was answered 401."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dealgate.deals.models import Deal, StageEvent
from dealgate.leads.tokens import create_token, revoke_token
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    """A client that checks CSRF tokens as the server does."""
    return Client(enforce_csrf_checks=True)


def bearer_of(user) -> dict[str, str]:
    _, secret = create_token(user, "integration", scope="leads,deals")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def alices_token(alice) -> dict[str, str]:
    return bearer_of(alice)


@pytest.fixture
def bobs_deal(pipeline, bob) -> Deal:
    return make_deal(pipeline, "inquiry", owner=bob, title="Bob's deal")


@pytest.fixture
def alices_deal(pipeline, alice) -> Deal:
    return make_deal(pipeline, "inquiry", owner=alice, title="Alice's deal")


def send(client: Client, method: str, url: str, body: dict[str, Any], **headers: str):
    return client.generic(
        method,
        url,
        json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_a_reps_token_creates_a_deal_they_own(browser, pipeline, alices_token, now):
    body = {"pipeline": "new-business", "title": "Backup for Contoso"}

    response = send(browser, "POST", "/api/v1/deals", body, **alices_token)

    assert response.status_code == 201, response.content
    assert response.json()["owner"] == "alice"
    event = StageEvent.objects.get(deal_id=response.json()["id"])
    assert (event.by.username, event.source) == ("alice", "api")


def test_a_reps_token_may_not_create_a_deal_for_another_rep(
    browser, pipeline, bob, alices_token, now
):
    body = {"pipeline": "new-business", "title": "For Bob", "owner": "bob"}

    response = send(browser, "POST", "/api/v1/deals", body, **alices_token)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Deal.objects.exists()


def test_a_reps_token_edits_and_moves_their_own_deal(
    browser, alices_deal, alices_token, now
):
    url = f"/api/v1/deals/{alices_deal.pk}"

    edited = send(
        browser, "PATCH", url, {"version": 1, "title": "Renamed"}, **alices_token
    )
    moved = send(
        browser,
        "POST",
        f"{url}/move",
        {"to": "discovery", "version": 2},
        **alices_token,
    )

    assert edited.status_code == 200, edited.content
    assert moved.status_code == 200, moved.content
    alices_deal.refresh_from_db()
    assert (alices_deal.title, alices_deal.stage.key) == ("Renamed", "discovery")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"version": 1, "title": "Taken over"}),
        ("POST", "/move", {"to": "discovery", "version": 1}),
        ("POST", "/activities", {"kind": "note", "subject": "Mine now"}),
    ],
)
def test_a_reps_token_is_refused_on_another_reps_deal(
    browser, bobs_deal, alices_token, method, path, body, now
):
    url = f"/api/v1/deals/{bobs_deal.pk}{path}"

    response = send(browser, method, url, body, **alices_token)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    bobs_deal.refresh_from_db()
    assert (bobs_deal.title, bobs_deal.version) == ("Bob's deal", 1)
    assert not bobs_deal.activities.exists()


def test_a_managers_token_edits_a_team_members_deal(
    browser, bobs_deal, max_manager, now
):
    response = send(
        browser,
        "PATCH",
        f"/api/v1/deals/{bobs_deal.pk}",
        {"version": 1, "title": "Checked by Max"},
        **bearer_of(max_manager),
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Checked by Max"


def test_a_token_reads_a_deal_and_its_history(browser, bobs_deal, alices_token, now):
    url = f"/api/v1/deals/{bobs_deal.pk}"

    deal = browser.get(url, headers=alices_token)
    history = browser.get(f"{url}/history", headers=alices_token)

    assert (deal.status_code, deal.json()["owner"]) == (200, "bob")
    assert history.status_code == 200


def test_a_revoked_token_is_401_on_the_deals_api(browser, alice, alices_deal, now):
    token, secret = create_token(alice, "old integration", scope="leads,deals")
    revoke_token(token.pk)
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/deals/{alices_deal.pk}"

    read = browser.get(url, headers=headers)
    edit = send(browser, "PATCH", url, {"version": 1, "title": "Revoked"}, **headers)

    for response in (read, edit):
        assert response.status_code == 401
        assert response.json() == {
            "code": "unauthenticated",
            "message": "the API token is unknown, revoked, or its user is inactive",
        }
        assert response["WWW-Authenticate"].startswith("Bearer")
    alices_deal.refresh_from_db()
    assert alices_deal.title == "Alice's deal"


def test_an_inactive_users_token_is_401_on_the_deals_api(
    browser, alice, alices_deal, alices_token, now
):
    alice.is_active = False
    alice.save()

    response = browser.get(f"/api/v1/deals/{alices_deal.pk}", headers=alices_token)

    assert response.status_code == 401


def test_a_wrong_token_is_401_on_the_deals_api_even_with_a_session(
    browser, alice, alices_deal, now
):
    browser.login(username="alice", password=PASSWORD)

    response = browser.get(
        f"/api/v1/deals/{alices_deal.pk}", headers={"Authorization": "Bearer dg_no"}
    )

    assert response.status_code == 401


def test_a_signed_in_change_to_a_deal_still_needs_its_csrf_token(
    browser, alice, alices_deal, now
):
    browser.login(username="alice", password=PASSWORD)
    browser.get("/leads/")  # a page sets the csrftoken cookie
    url = f"/api/v1/deals/{alices_deal.pk}"

    refused = send(browser, "PATCH", url, {"version": 1, "title": "No CSRF"})
    taken = send(
        browser,
        "PATCH",
        url,
        {"version": 1, "title": "With CSRF"},
        X_CSRFToken=browser.cookies["csrftoken"].value,
    )

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    assert taken.status_code == 200, taken.content
    assert taken.json()["title"] == "With CSRF"
