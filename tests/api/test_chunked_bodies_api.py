"""A body sent in chunks (`Transfer-Encoding: chunked`, no Content-Length)
is read whole when the server hands it over so (`wsgi.input_terminated`, as
gunicorn does), within the limit of any other body, and refused otherwise:
never taken for no body. A conversion under {"stage": "proposal"} went into
the first stage, past the criteria that would have refused it.

The server's side (gunicorn undoing the chunks) is in
test_chunked_bodies_served.py; here the request comes as gunicorn hands it
to the application: the body's bytes in `wsgi.input`, no CONTENT_LENGTH.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import Lead
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.leads.conftest import CENTRAL_RULES, inquiry
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


class BrokenInput(io.RawIOBase):
    """A WSGI input whose chunks cannot be read, as gunicorn's reader fails
    when the client hangs up before the last chunk."""

    def read(self, size: int = -1) -> bytes:
        raise OSError("the client hung up before the last chunk")


def send_chunked(
    client,
    method: str,
    url: str,
    body: bytes | str | dict[str, Any],
    *,
    terminated: bool = True,
    stream: Any = None,
    **headers: str,
):
    """`body` as a server hands a chunked body on: undone, ended where the
    body ends (`terminated`), and with no Content-Length."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    environ = {
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": stream or io.BytesIO(body),
        "wsgi.input_terminated": terminated,
    }
    return client.generic(method, url, b"", headers=headers, **environ)


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    return pipeline


@pytest.fixture
def bearer(alice) -> dict[str, str]:
    _, secret = create_token(alice, "streaming client", scope="leads,deals")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def lead(pipeline, alice):
    return Lead.objects.create(
        pipeline=pipeline,
        email="a@example.com",
        company="Initech AG",
        owner=alice,
        created_at=NOW,
    )


def _gate_proposal(pipeline) -> None:
    proposal = pipeline.stages.get(key="proposal")
    proposal.entry_criteria = [
        {"label": "Budget confirmed", "rule": "checklist.budget == true"}
    ]
    proposal.save()


def test_a_chunked_conversion_starts_the_deal_in_the_stage_it_names(
    client, lead, bearer, now
):
    response = send_chunked(
        client,
        "POST",
        f"/api/v1/leads/{lead.pk}/convert",
        {"stage": "discovery"},
        **bearer,
    )

    assert response.status_code == 200, response.content
    assert Deal.objects.get().stage.key == "discovery"


def test_a_chunked_conversion_into_a_gated_stage_is_refused_by_its_criteria(
    client, pipeline, lead, bearer, now
):
    _gate_proposal(pipeline)

    response = send_chunked(
        client,
        "POST",
        f"/api/v1/leads/{lead.pk}/convert",
        {"stage": "proposal"},
        **bearer,
    )

    assert response.status_code == 422, response.content
    assert "Budget confirmed" in " ".join(response.json()["unmet"])
    lead.refresh_from_db()
    assert (lead.status, Deal.objects.count()) == ("new", 0)


def test_a_chunked_lead_is_captured_with_its_fields(client, routed, bearer, now):
    response = send_chunked(client, "POST", "/api/v1/leads", inquiry(), **bearer)

    assert response.status_code == 201, response.content
    assert Lead.objects.get().email == "person1@company1.example"


def test_a_chunked_deal_edit_is_applied(client, pipeline, alice, bearer, now):
    deal = make_deal(pipeline, "inquiry", owner=alice)

    response = send_chunked(
        client,
        "PATCH",
        f"/api/v1/deals/{deal.pk}",
        {"version": deal.version, "title": "Backup for Contoso"},
        **bearer,
    )

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.title == "Backup for Contoso"


def test_a_chunked_body_to_an_endpoint_that_reads_none_is_refused(
    client, pipeline, alice, bearer, now
):
    deal = make_deal(pipeline, "discovery", owner=alice)
    task = Activity.objects.create(
        deal=deal, kind="task", subject="Call", done=False, at=NOW, by=alice
    )

    response = send_chunked(
        client,
        "POST",
        f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done",
        {"done": False},
        **bearer,
    )

    assert response.status_code == 422
    assert response.json()["message"].startswith("unknown field done: ")
    task.refresh_from_db()
    assert task.done is False


def test_an_empty_chunked_body_is_no_body(client, pipeline, alice, bearer, now):
    deal = make_deal(pipeline, "inquiry", owner=alice)

    response = send_chunked(client, "GET", f"/api/v1/deals/{deal.pk}", b"", **bearer)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == deal.pk


def test_a_chunked_body_past_the_servers_limit_is_refused_naming_it(
    client, lead, bearer, settings, now
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"stage": "discovery" + " " * 2000}

    response = send_chunked(
        client, "POST", f"/api/v1/leads/{lead.pk}/convert", body, **bearer
    )

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "the body is over 1,000 bytes, more than the server takes",
        "field": "body",
    }
    assert not Deal.objects.exists()


def test_a_chunked_lead_past_the_lead_limit_is_refused_naming_it(
    client, routed, bearer, now
):
    response = send_chunked(
        client, "POST", "/api/v1/leads", inquiry(message="x" * 70_000), **bearer
    )

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "the limit is 65,536" in response.json()["message"]
    assert not Lead.objects.exists()


def test_a_chunked_body_the_server_does_not_end_is_411_and_nothing_happens(
    client, lead, bearer, now
):
    response = send_chunked(
        client,
        "POST",
        f"/api/v1/leads/{lead.pk}/convert",
        {"stage": "discovery"},
        terminated=False,
        **bearer,
    )

    assert response.status_code == 411
    assert response.json() == {
        "code": "length_required",
        "message": "the body is sent in chunks (Transfer-Encoding) without a "
        "Content-Length, and this server cannot tell where it ends; send it "
        "with a Content-Length",
        "field": "body",
    }
    lead.refresh_from_db()
    assert (lead.status, Deal.objects.count()) == ("new", 0)


def test_chunks_that_cannot_be_read_are_400_and_nothing_happens(
    client, lead, bearer, now
):
    response = send_chunked(
        client,
        "POST",
        f"/api/v1/leads/{lead.pk}/convert",
        b"",
        stream=BrokenInput(),
        **bearer,
    )

    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "before its last chunk" in response.json()["message"]
    assert not Deal.objects.exists()


def test_a_body_past_the_servers_limit_with_its_length_names_the_limit(
    client, pipeline, alice, bearer, settings, now
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    deal = make_deal(pipeline, "inquiry", owner=alice)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        '{"version": 1, "notes": "' + "x" * 2000 + '"}',
        content_type="application/json",
        headers=bearer,
    )

    assert response.status_code == 422
    assert response.json()["message"] == (
        "the body is 2,027 bytes, more than the server takes (1,000 at most)"
    )
