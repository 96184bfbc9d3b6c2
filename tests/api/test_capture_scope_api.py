"""A token with the scope `capture`, the default for a new one, sends leads
in and nothing more: a website's page holds it, and anyone who reads the
page may copy it. It reads no lead, neither at a lead's address (403 naming
the scope it lacks) nor in what its capture is answered (the same 202
whatever became of the lead). Tokens made before keep what they opened."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dealgate.api.leads import router as leads_router
from dealgate.leads import assign
from dealgate.leads.models import ApiToken, Lead, LeadActivity
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from tests.leads.conftest import CENTRAL_RULES, inquiry

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads"
RECEIVED = {
    "outcome": "received",
    "reason": "the lead is received; a token with the scope 'capture' is told no "
    "more of it (one with the scope 'leads' is)",
}
# Every lead endpoint but the capture: (method, address under /api/v1/leads
# formatted with a lead's id, body).
READS_AND_CHANGES = [
    ("GET", "", None),
    ("HEAD", "", None),
    ("GET", "/{lead}", None),
    ("HEAD", "/{lead}", None),
    ("POST", "/{lead}/activities", {"kind": "note", "subject": "From a page"}),
    ("POST", "/{lead}/disqualify", {"reason": "spam"}),
    ("POST", "/{lead}/convert", None),
]
IDS = [f"{method} {path}" for method, path, _ in READS_AND_CHANGES]
# Lead endpoints that need the scope `leads,deals` (tests/leads/test_lead_edit.py).
DEALS_SCOPE_ONLY = [("PATCH", "/{lead}")]


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    """The suite's pipeline with the lead tests' rules (tests/leads)."""
    assign.forget_cached()
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    return pipeline


@pytest.fixture
def lead(routed, now) -> Lead:
    """A lead someone sent before, routed to alice."""
    return capture_lead(inquiry(1, external_id="web-1"), source="api").lead


def bearer(user, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(user, 'website', **scope)[1]}"}


def post(data: Any, headers: dict[str, str]) -> Any:
    return Client().post(
        URL, json.dumps(data), content_type="application/json", headers=headers
    )


def call(method: str, path: str, body: Any, lead: Lead, headers: dict) -> Any:
    url = URL + path.format(lead=lead.pk)
    text = json.dumps(body) if body is not None else ""
    return Client().generic(
        method, url, text, content_type="application/json", headers=headers
    )


def test_a_new_token_only_captures(olivia):
    token, _ = create_token(olivia, "website")

    assert token.scope == ApiToken.Scope.CAPTURE


def test_a_capture_token_captures_a_lead_routed_as_any_other(routed, olivia, now):
    response = post(inquiry(2), bearer(olivia))

    assert (response.status_code, response.json()) == (202, RECEIVED)
    made = Lead.objects.get()
    assert (made.owner.username, made.channel) == ("alice", "api")
    assert made.created_by == olivia


@pytest.mark.parametrize(
    "repeat",
    [
        inquiry(1, message="me again"),  # the same address: attached
        inquiry(1, external_id="web-1"),  # sent again under its id: known
        # The same company, from a mailbox provider (no firm's domain): attached
        inquiry(9, company="Company 1 GmbH", email="person9@web.de"),
    ],
    ids=["same email", "same external id", "same company"],
)
def test_a_capture_token_is_told_nothing_of_a_lead_already_there(lead, olivia, repeat):
    response = post(repeat, bearer(olivia))

    assert (response.status_code, response.json()) == (202, RECEIVED)
    assert Lead.objects.count() == 1


def test_the_same_repeat_tells_a_leads_token_what_it_joined(lead, olivia):
    response = post(inquiry(1, message="me again"), bearer(olivia, scope="leads"))

    assert response.status_code == 200
    assert response.json()["attached_to_lead"] == lead.pk


@pytest.mark.parametrize(("method", "path", "body"), READS_AND_CHANGES, ids=IDS)
def test_a_capture_token_is_refused_on_every_other_lead_endpoint(
    lead, olivia, method, path, body
):
    headers = bearer(olivia)

    response = call(method, path, body, lead, headers)

    assert response.status_code == 403, response.content
    if method == "HEAD":
        assert response.content == b""
        return
    token = ApiToken.objects.get()
    assert response.json() == {
        "code": "forbidden",
        "message": f"API token {token.pk} has the scope 'capture': it opens "
        f"capturing leads (POST /api/v1/leads) only, not {method} "
        f"{URL}{path.format(lead=lead.pk)}, which needs the scope 'leads'. A "
        "token that opens it is made with `dealgate token create olivia --scope "
        "leads`",
    }
    lead.refresh_from_db()
    assert (lead.status, lead.deal) == (Lead.Status.ASSIGNED, None)
    assert not LeadActivity.objects.filter(lead=lead).exclude(kind="inquiry")


@pytest.mark.parametrize(("method", "path", "body"), READS_AND_CHANGES, ids=IDS)
def test_a_leads_token_still_opens_every_lead_endpoint(
    lead, olivia, method, path, body
):
    response = call(method, path, body, lead, bearer(olivia, scope="leads"))

    assert response.status_code == 200, response.content


def test_every_lead_endpoint_is_in_this_file():
    """A lead endpoint added later takes the API's default authentication,
    which needs the scope `leads`, and is listed here (or among those that
    need `leads,deals`)."""
    served = {
        (method, path.replace("{lead_id}", "{lead}"))
        for path, operations in leads_router.path_operations.items()
        for operation in operations.operations
        for method in operation.methods
    }

    listed = {(method, path) for method, path, _ in READS_AND_CHANGES}
    listed |= set(DEALS_SCOPE_ONLY)
    assert served == {(m, p) for m, p in listed if m != "HEAD"} | {("POST", "")}


def test_a_signed_in_session_is_told_what_became_of_its_lead(client, lead, olivia, now):
    client.force_login(olivia)
    client.get("/")  # the CSRF cookie
    response = client.post(
        URL,
        json.dumps(inquiry(1, message="me again")),
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )

    assert response.status_code == 200, response.content
    assert response.json()["attached_to_lead"] == lead.pk
