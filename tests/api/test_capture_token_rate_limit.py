"""A capture token sits in a website's page, where anyone may copy it (docs/
leads.md), so what it lets in is held to the same per-address limit as the
web form it stands beside. Today the API takes every capture: one address
sent 12 leads in a row with a page's capture token, against the form's 5.
"""

from __future__ import annotations

import json

import pytest

from dealgate.leads import assign
from dealgate.leads.models import ApiToken, Lead
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
