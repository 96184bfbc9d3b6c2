"""PostgreSQL: while an import's first load holds the deals tables, a lead
from the website form or the lead API waits WEB_DB_WAIT and is refused with
503 and Retry-After, saying it was not received; PostgreSQL has no lead
spool (dealgate.leads.spool), so the sender sends it again. The SQLite side
is in test_busy.py and test_spool.py."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from dealgate.leads.models import Lead
from dealgate.leads.tokens import create_token
from tests.locking import IMPORT_LOCKS

from .conftest import inquiry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL's lock_timeout; SQLite's answers are in test_busy.py",
    ),
]


FORM = "/leads/form/new-business/"


def test_a_lead_form_post_is_told_its_message_was_not_received(
    client, routed, other, settings, now
):
    settings.WEB_DB_WAIT = 0.05
    other.lock(*IMPORT_LOCKS)

    response = client.post(FORM, inquiry())

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "Your message was not received" in response.content.decode()
    other.release()
    assert not Lead.objects.exists()
    assert client.post(FORM, inquiry()).status_code == 200
    assert Lead.objects.count() == 1


def test_the_lead_api_answers_503_busy(client, routed, olivia, other, settings, now):
    settings.WEB_DB_WAIT = 0.05
    secret = create_token(olivia, "website")[1]
    other.lock(*IMPORT_LOCKS)

    response = client.post(
        "/api/v1/leads",
        json.dumps(inquiry()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response.json()["code"] == "busy"
    other.release()
    assert not Lead.objects.exists()
