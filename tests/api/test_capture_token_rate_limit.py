"""A capture token sits in a website's page, where anyone may copy it (docs/
leads.md), so what it lets in is held to the same per-address limit as the
web form it stands beside. Today the API takes every capture: one address
sent 12 leads in a row with a page's capture token, against the form's 5.
"""

from __future__ import annotations

import json

import pytest
from django.db.models import Sum

from dealgate.leads import assign, spool
from dealgate.leads.models import ApiToken, FormHit, Lead
from dealgate.leads.tokens import create_token
from tests.leads.conftest import CENTRAL_RULES, inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    assign.forget_cached()
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    return pipeline


def test_a_copied_capture_token_is_held_to_the_per_address_limit(
    client, routed, alice, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2
    _, secret = create_token(alice, "website", scope=ApiToken.Scope.CAPTURE)

    codes = [
        client.post(
            "/api/v1/leads",
            json.dumps(inquiry(n)),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        ).status_code
        for n in range(3)
    ]

    assert codes == [202, 202, 429]
    assert Lead.objects.count() == 2


def _capture(client, secret: str, data: dict, **extra):
    return client.post(
        "/api/v1/leads",
        json.dumps(data),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **extra,
    )


def test_a_limited_capture_is_told_when_one_more_fits(
    client, routed, alice, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 1
    settings.LEADS_FORM_RATE_WINDOW = 600
    _, secret = create_token(alice, "website", scope=ApiToken.Scope.CAPTURE)
    assert _capture(client, secret, inquiry(1)).status_code == 202

    refused = _capture(client, secret, inquiry(2))

    assert refused.status_code == 429
    assert refused["Retry-After"] == "600"
    body = json.loads(refused.content)
    assert body["code"] == "rate_limited"
    assert "at most 1 lead in 10 minutes" in body["message"]


def test_a_refused_capture_gives_its_count_back(client, routed, alice, now, settings):
    settings.LEADS_FORM_RATE_LIMIT = 2
    _, secret = create_token(alice, "website", scope=ApiToken.Scope.CAPTURE)
    for n in range(3):
        bad = _capture(client, secret, inquiry(n, email="not an address"))
        assert bad.status_code == 422

    codes = [_capture(client, secret, inquiry(n)).status_code for n in range(2)]

    assert codes == [202, 202]


def test_the_form_and_a_capture_token_share_one_address_s_limit(
    client, routed, alice, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2
    _, secret = create_token(alice, "website", scope=ApiToken.Scope.CAPTURE)
    assert client.post("/leads/form/new-business/", inquiry(1)).status_code == 200
    assert _capture(client, secret, inquiry(2)).status_code == 202

    assert _capture(client, secret, inquiry(3)).status_code == 429
    # Another address has its own.
    other = _capture(client, secret, inquiry(4), REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 202
    assert Lead.objects.count() == 3


def test_a_leads_token_of_an_integrator_s_server_is_not_limited(
    client, routed, alice, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 1
    _, secret = create_token(alice, "crm sync", scope=ApiToken.Scope.LEADS)

    codes = {_capture(client, secret, inquiry(n)).status_code for n in range(3)}

    assert codes == {201}
    assert Lead.objects.count() == 3


def test_a_capture_token_s_leads_kept_during_an_import_are_held_to_the_limit(
    sqlite_file, client, routed, alice, other_writer, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 1
    _, secret = create_token(alice, "website", scope=ApiToken.Scope.CAPTURE)
    _capture(client, secret, inquiry(0, email="bad"))  # the token's first use
    other_writer.execute("BEGIN IMMEDIATE")

    codes = [_capture(client, secret, inquiry(n)).status_code for n in (1, 2)]

    other_writer.execute("ROLLBACK")
    assert codes == [202, 429]
    # Counted from the spool while it waited, then once in the database.
    assert spool.drain_spool().taken == 1
    assert FormHit.objects.aggregate(total=Sum("count"))["total"] == 1
    assert Lead.objects.count() == 1
