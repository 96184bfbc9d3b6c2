"""Who may call the leads API, as a real server checks it (CSRF enforced):
a token, a signed-in session with its CSRF token, or nobody (401)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealgate.leads.models import Lead
from dealgate.leads.tokens import create_token
from tests.conftest import PASSWORD
from tests.leads.conftest import CENTRAL_RULES, inquiry

URL = "/api/v1/leads"


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    return pipeline


@pytest.fixture
def browser() -> Client:
    """A client that checks CSRF tokens as the server does."""
    return Client(enforce_csrf_checks=True)


def _post(client: Client, **headers: str):
    return client.post(
        URL, json.dumps(inquiry()), content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("header", ["Bearer dg_wrong", "Bearer not-a-token", "Basic x"])
def test_a_wrong_token_is_401_with_a_json_error(browser, routed, header, now):
    response = _post(browser, Authorization=header)

    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthenticated",
        "message": "the API token is unknown, revoked, or its user is inactive",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Lead.objects.exists()


def test_no_credentials_at_all_is_401(browser, routed, now):
    response = _post(browser)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_wrong_token_is_401_even_with_a_session(browser, routed, olivia, now):
    browser.login(username="olivia", password=PASSWORD)

    assert _post(browser, Authorization="Bearer dg_wrong").status_code == 401


def test_a_right_token_needs_no_csrf_token(browser, routed, olivia, now):
    _, secret = create_token(olivia, "website")

    assert _post(browser, Authorization=f"Bearer {secret}").status_code == 202


def test_a_signed_in_post_without_its_csrf_token_is_refused(
    browser, routed, olivia, now
):
    browser.login(username="olivia", password=PASSWORD)

    response = _post(browser)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "CSRF" in response.json()["message"]
    assert not Lead.objects.exists()


def test_a_csrf_refusal_names_the_origin_and_the_method_when_they_fail(
    browser, routed, olivia, now
):
    browser.login(username="olivia", password=PASSWORD)
    browser.get("/leads/")
    token = browser.cookies["csrftoken"].value

    response = browser.patch(
        f"{URL}/1",
        json.dumps({"name": "A"}),
        content_type="application/json",
        headers={"X-CSRFToken": token, "Origin": "https://evil.example"},
    )
    missing = _post(browser)

    assert response.status_code == 403
    assert response.json()["message"] == (
        "CSRF check failed: its Origin header ('https://evil.example') is not "
        "this site's address; a signed-in PATCH must come from a page of this "
        "site (or use an API token)"
    )
    assert missing.json()["message"] == (
        "CSRF check failed: a signed-in POST must send the csrftoken cookie's "
        "value in the X-CSRFToken header"
    )


def test_a_signed_in_post_with_its_csrf_token_captures(browser, routed, olivia, now):
    browser.login(username="olivia", password=PASSWORD)
    browser.get("/leads/")  # a page sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value

    assert _post(browser, X_CSRFToken=token).status_code == 201


def test_the_deals_api_also_answers_401_to_a_wrong_token(browser, routed, now):
    response = browser.post(
        "/api/v1/deals/1/move",
        json.dumps({"to": "won", "version": 1}),
        content_type="application/json",
        headers={"Authorization": "Bearer dg_wrong"},
    )

    assert response.status_code == 401
