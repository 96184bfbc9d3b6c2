"""A page, the public lead form too, reads a form sent in chunks
(`Transfer-Encoding: chunked`, no Content-Length) whole when the server
hands it over so (`wsgi.input_terminated`, as gunicorn does), and refuses
it otherwise: never as an empty form. A script sending X-CSRFToken posted
a chunked `stage=proposal` to a lead's conversion, and the lead converted
into the first stage, past the criteria that would have refused it.

Here the request comes as gunicorn hands it to the application (the body's
bytes in `wsgi.input`, no CONTENT_LENGTH); the server's side is in
tests/api/test_chunked_bodies_served.py.
"""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

import pytest
from django.test import Client

from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead

from .conftest import inquiry

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


class BrokenInput(io.RawIOBase):
    """A WSGI input whose chunks cannot be read, as gunicorn's reader fails
    when the client hangs up before the last chunk."""

    def read(self, size: int = -1) -> bytes:
        raise OSError("the client hung up before the last chunk")


def post_chunked(
    client: Client,
    url: str,
    body: dict[str, str] | bytes,
    *,
    terminated: bool = True,
    stream: Any = None,
    **headers: str,
):
    """`body` (a form's fields, or bytes) as a server hands a chunked body
    on: undone, ended where the body ends (`terminated`), no Content-Length."""
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body).encode()
    environ = {
        "CONTENT_TYPE": FORM,
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": stream or io.BytesIO(body),
        "wsgi.input_terminated": terminated,
    }
    return client.generic("POST", url, b"", headers=headers, **environ)


@pytest.fixture
def browser(alice) -> Client:
    """Alice signed in, with CSRF checked as the server checks it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/")
    return client


def csrf(client: Client) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


@pytest.fixture
def lead(routed, now) -> Lead:
    return capture_lead(inquiry(), source="api").lead  # alice's


@pytest.fixture
def gated_proposal(routed) -> None:
    proposal = routed.stages.get(key="proposal")
    proposal.entry_criteria = [
        {"label": "Budget confirmed", "rule": "checklist.budget == true"}
    ]
    proposal.save()


def test_a_chunked_conversion_on_the_lead_page_enters_the_stage_it_names(
    browser, lead, now
):
    url = f"/leads/{lead.pk}/convert/"

    response = post_chunked(browser, url, {"stage": "discovery"}, **csrf(browser))

    assert response.status_code == 302, response.content
    assert Deal.objects.get().stage.key == "discovery"


def test_a_chunked_conversion_into_a_gated_stage_is_refused_by_its_criteria(
    browser, lead, gated_proposal, now
):
    url = f"/leads/{lead.pk}/convert/"

    response = post_chunked(browser, url, {"stage": "proposal"}, **csrf(browser))

    assert response.status_code == 422, response.content
    assert "Budget confirmed" in response.content.decode()
    lead.refresh_from_db()
    assert (lead.status, Deal.objects.count()) == ("assigned", 0)


def test_a_chunked_form_carries_its_csrf_token_in_the_body(browser, lead, now):
    """The body is read before CSRF's check reads the form's token from it."""
    token = browser.cookies["csrftoken"].value
    body = {"stage": "discovery", "csrfmiddlewaretoken": token}

    response = post_chunked(browser, f"/leads/{lead.pk}/convert/", body)

    assert response.status_code == 302, response.content
    assert Deal.objects.get().stage.key == "discovery"


def test_a_chunked_submission_of_the_public_lead_form_is_captured(client, routed, now):
    response = post_chunked(client, "/leads/form/new-business/", inquiry())

    assert response.status_code == 200, response.content
    assert "Thank you" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.email, lead.channel) == ("person1@company1.example", "form")


def test_a_chunked_form_the_server_does_not_end_is_refused_with_411(browser, lead, now):
    response = post_chunked(
        browser,
        f"/leads/{lead.pk}/convert/",
        {"stage": "discovery"},
        terminated=False,
        **csrf(browser),
    )

    assert response.status_code == 411
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "This request could not be read" in page
    assert (
        "the body is sent in chunks (Transfer-Encoding) without a "
        "Content-Length, and this server cannot tell where it ends; "
        "send it with a Content-Length"
    ) in page
    assert Deal.objects.count() == 0


def test_a_chunked_form_past_the_upload_limit_is_refused_as_a_long_one_is(
    client, routed, settings, now
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = {**inquiry(), "message": "x" * 5000}

    response = post_chunked(client, "/leads/form/new-business/", body)

    assert response.status_code == 413
    assert "larger than the 4 KB this site takes" in response.content.decode()
    assert not Lead.objects.exists()


def test_a_chunked_form_whose_chunks_cannot_be_read_is_a_400(client, routed, now):
    response = post_chunked(
        client, "/leads/form/new-business/", b"", stream=BrokenInput()
    )

    assert response.status_code == 400
    assert "chunks are not well formed" in response.content.decode()
    assert not Lead.objects.exists()


def test_a_form_sent_with_its_length_is_read_as_before(browser, lead, now):
    response = browser.post(
        f"/leads/{lead.pk}/convert/", {"stage": "discovery"}, **_csrf_meta(browser)
    )

    assert response.status_code == 302
    assert Deal.objects.get().stage.key == "discovery"


def _csrf_meta(client: Client) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
