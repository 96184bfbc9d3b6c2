"""An API token opens what its scope says. Only one made to open the deals
too (scope "leads,deals") opens the deals endpoints, and there acts with
exactly its person's rights.

Tokens were first made for websites' lead forms, where anyone who reads the
page can copy them; one commit made every such token open the deals as
well. A capture-only or leads-only token on any deals endpoint is a 403
naming its scope, the one needed and how to make a token that has it, and
changes nothing (tests/api/test_capture_scope_api.py: the lead endpoints).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from dealgate.api.deals import router as deals_router
from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db

DEALS = "leads,deals"

# Every deals endpoint: (method, address under /api/v1/deals, body). Each
# address is formatted with the deal's and its open task's ids.
ENDPOINTS = [
    ("POST", "", {"pipeline": "new-business", "title": "From a token"}),
    ("GET", "", None),
    ("GET", "/{deal}", None),
    ("GET", "/{deal}/history", None),
    ("GET", "/{deal}/activities", None),
    ("PATCH", "/{deal}", {"version": 1, "title": "Changed by a token"}),
    ("POST", "/{deal}/move", {"to": "discovery", "version": 1}),
    (
        "POST",
        "/bulk-move",
        {"deals": [{"id": "{deal}", "version": 1}], "to": "discovery"},
    ),
    ("POST", "/{deal}/activities", {"kind": "note", "subject": "From a token"}),
    ("POST", "/{deal}/tasks/{task}/done", None),
]
ENDPOINT_IDS = [f"{method} {path or '/'}" for method, path, _ in ENDPOINTS]


@pytest.fixture
def alices_deal(pipeline, alice) -> Deal:
    return make_deal(pipeline, "inquiry", owner=alice, title="Alice's deal")


@pytest.fixture
def alices_task(alices_deal, alice) -> Activity:
    return Activity.objects.create(
        deal=alices_deal,
        kind="task",
        subject="Call back",
        done=False,
        due_at=NOW + dt.timedelta(days=2),
        at=NOW,
        by=alice,
    )


def bearer(user, scope: str) -> dict[str, str]:
    _, secret = create_token(user, "website form", scope=scope)
    return {"Authorization": f"Bearer {secret}"}


def call(
    method: str, path: str, body: Any, deal: Deal, task: Activity, headers: dict
) -> Any:
    ids = {"deal": deal.pk, "task": task.pk}
    url = "/api/v1/deals" + path.format(**ids)
    if body is not None:
        text = json.dumps(body).replace('"{deal}"', str(deal.pk))
        return Client().generic(
            method, url, text, content_type="application/json", headers=headers
        )
    return Client().generic(method, url, headers=headers)


def test_every_deals_endpoint_is_in_this_file():
    """A deals endpoint added later is refused to a leads-only token too
    (the whole router takes the deals' authentication), and is listed here."""
    served = {
        (
            method,
            path.replace("{int:deal_id}", "{deal}").replace("{int:task_id}", "{task}"),
        )
        for path, operations in deals_router.path_operations.items()
        for operation in operations.operations
        for method in operation.methods
    }

    assert served == {(method, path) for method, path, _ in ENDPOINTS}


@pytest.mark.parametrize("scope", [ApiToken.Scope.CAPTURE, ApiToken.Scope.LEADS])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_token_without_the_deals_scope_is_refused_on_every_deals_endpoint(
    pipeline, alice, alices_deal, alices_task, method, path, body, scope, now
):
    headers = bearer(alice, scope)

    response = call(method, path, body, alices_deal, alices_task, headers)

    assert response.status_code == 403, response.content
    token = ApiToken.objects.get()
    url = "/api/v1/deals" + path.format(deal=alices_deal.pk, task=alices_task.pk)
    opens = {
        "capture": "capturing leads (POST /api/v1/leads) only",
        "leads": "the lead endpoints only",
    }[scope]
    assert response.json() == {
        "code": "forbidden",
        "message": f"API token {token.pk} has the scope '{scope}': it opens "
        f"{opens}, not {method} {url}, which needs the scope 'leads,deals'. A "
        "token that opens it is made with `dealgate token create alice --scope "
        "leads,deals`",
    }
    alices_task.refresh_from_db()
    assert Deal.objects.get() == alices_deal
    assert Deal.objects.get().version == alices_deal.version
    assert (Deal.objects.get().title, Deal.objects.get().stage.key) == (
        "Alice's deal",
        "inquiry",
    )
    assert Activity.objects.count() == 1 and not alices_task.done


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_deals_token_opens_every_deals_endpoint_on_its_persons_deal(
    pipeline, alice, alices_deal, alices_task, method, path, body, now
):
    headers = bearer(alice, DEALS)

    response = call(method, path, body, alices_deal, alices_task, headers)

    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS[5:], ids=ENDPOINT_IDS[5:]
)
def test_a_deals_token_keeps_to_its_persons_rights(
    pipeline, alice, bob, alices_deal, alices_task, method, path, body, now
):
    """Bob, a rep, may change no deal of Alice's: his token is refused by the
    services' own check, as he would be on the page (a bulk move says so
    for each deal)."""
    headers = bearer(bob, DEALS)

    response = call(method, path, body, alices_deal, alices_task, headers)

    refusal = response.json()
    if path == "/bulk-move":
        assert (response.status_code, refusal["code"]) == (422, "bulk_move_refused")
        refusal["message"] = refusal["refusals"][str(alices_deal.pk)]
    else:
        assert (response.status_code, refusal["code"]) == (403, "forbidden")
    assert "belongs to someone outside your deals" in refusal["message"]
    alices_task.refresh_from_db()
    assert Deal.objects.get().version == alices_deal.version
    assert Activity.objects.count() == 1 and not alices_task.done


def test_a_deals_token_may_not_create_a_deal_for_another_rep(pipeline, alice, bob, now):
    body = {"pipeline": "new-business", "title": "For Bob", "owner": "bob"}

    response = Client().post(
        "/api/v1/deals",
        body,
        content_type="application/json",
        headers=bearer(alice, DEALS),
    )

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert Deal.objects.count() == 0


def test_a_leads_only_token_still_opens_the_lead_endpoints(pipeline, olivia, now):
    headers = bearer(olivia, ApiToken.Scope.LEADS)
    lead = {"email": "ann@fabrikam.example", "company": "Fabrikam"}

    captured = Client().post(
        "/api/v1/leads", lead, content_type="application/json", headers=headers
    )
    read = Client().get(
        f"/api/v1/leads/{captured.json()['lead']['id']}", headers=headers
    )

    assert captured.status_code == 201, captured.content
    assert read.status_code == 200


def test_a_signed_in_session_is_not_held_to_any_token_scope(
    client, pipeline, alice, alices_deal, now
):
    client.force_login(alice)

    response = client.get(f"/api/v1/deals/{alices_deal.pk}")

    assert response.status_code == 200
