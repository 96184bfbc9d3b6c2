"""An anonymous capture (the website form, a token with the scope
`capture`) is answered before the inquiry is compared with any lead, where
there is a spool to keep it: what its sender sees, and the work done before
they see it, is the same whether the email belongs to a lead or not. The
inquiry is taken in once the answer has gone (the server closes the
response), and by the sweeper when that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.signals import request_finished
from django.db import OperationalError, close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from dealgate.leads import spool
from dealgate.leads.models import DedupDecision, FormHit, Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token

from .conftest import inquiry

pytestmark = pytest.mark.django_db

FORM = "/leads/form/new-business/"
API = "/api/v1/leads"
# What the answer may read: the pipeline, the token and its person, the
# sender's hits. Never a lead, a deal or what de-duplication keeps.
NEVER_READ = ("leads_lead", "deals_", "leads_dedupdecision", "leads_leadactivity")


@pytest.fixture
def spooled(routed, settings, tmp_path) -> Path:
    settings.LEADS_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def known(spooled, now) -> Lead:
    """A lead whose email an outsider tries."""
    return capture_lead(inquiry(1), source="form").lead


@pytest.fixture
def secret(olivia) -> str:
    return create_token(olivia, "website")[1]


@pytest.fixture
def unclosed() -> Iterator[None]:
    """Close responses as the test client does, without closing the test's
    database connection (which is inside the test's transaction)."""
    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


def _form_post(data: dict, address: str = "203.0.113.9"):
    request = RequestFactory().post(FORM, data, REMOTE_ADDR=address)
    return resolve(FORM).func(request, pipeline_key="new-business")


def _api_post(data: dict, secret: str, address: str = "203.0.113.9"):
    request = RequestFactory().post(
        API,
        json.dumps(data),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
        REMOTE_ADDR=address,
    )
    return resolve(API).func(request)


def _answered(post, data: dict, *args) -> tuple[object, list[str]]:
    """The answer to `data`, not yet closed, and the SQL run before it."""
    with CaptureQueriesContext(connection) as queries:
        response = post(data, *args)
    return response, [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("door", ["form", "api"])
def test_a_known_and_an_unknown_email_are_answered_alike_before_any_matching(
    known, secret, unclosed, door
):
    # Two senders, each with nothing sent before: both doors count a sender's
    # inquiries per address, a token's first use is recorded.
    if door == "form":
        repeat, repeat_sql = _answered(_form_post, inquiry(1, message="again"))
        new, new_sql = _answered(_form_post, inquiry(2), "198.51.100.7")
    else:
        repeat, repeat_sql = _answered(_api_post, inquiry(1, message="again"), secret)
        other = create_token(known.owner, "another website")[1]
        new, new_sql = _answered(_api_post, inquiry(2), other, "198.51.100.7")

    assert (repeat.status_code, repeat.content) == (new.status_code, new.content)
    assert len(repeat_sql) == len(new_sql)
    read = [sql for sql in repeat_sql + new_sql if any(t in sql for t in NEVER_READ)]
    assert read == []
    # Nothing matched yet: both wait in the spool until their answers close.
    assert Lead.objects.count() == 1 and not DedupDecision.objects.exists()
    assert len(list(known_files(known))) == 2

    repeat.close()
    new.close()

    assert DedupDecision.objects.get().lead == known
    assert Lead.objects.count() == 2
    assert list(known_files(known)) == []


def known_files(lead: Lead) -> list[Path]:
    return sorted(spool.spool_dir().glob("*.json"))


def test_a_form_inquiry_taken_in_after_its_answer_counts_once_for_its_sender(
    spooled, unclosed
):
    response = _form_post(inquiry(2))
    # Counted before it was kept, in one step with the limit's check.
    assert FormHit.objects.get().count == 1

    response.close()

    assert FormHit.objects.get().count == 1
    (lead,) = Lead.objects.all()
    assert (lead.channel, lead.source, lead.owner.username) == ("form", "form", "alice")


def test_a_capture_token_s_lead_is_made_as_its_person_once_answered(
    spooled, secret, olivia, unclosed
):
    response = _api_post(inquiry(2), secret)

    assert response.status_code == 202
    assert json.loads(response.content)["outcome"] == "received"
    response.close()
    (lead,) = Lead.objects.all()
    assert (lead.channel, lead.created_by) == ("api", olivia)


def test_a_bad_inquiry_is_refused_naming_its_field_and_nothing_is_kept(spooled, secret):
    response = _api_post(inquiry(2, email="not an address"), secret)

    assert response.status_code == 422
    assert json.loads(response.content)["field"] == "email"
    assert not spooled.exists() or list(spooled.glob("*.json")) == []


def test_an_inquiry_the_database_cannot_take_after_its_answer_waits_for_the_sweeper(
    spooled, secret, unclosed, monkeypatch
):
    def busy(path):
        raise OperationalError("database is locked")

    response = _api_post(inquiry(2), secret)
    with monkeypatch.context() as patched:
        patched.setattr(spool, "_take_in", busy)
        response.close()

    assert not Lead.objects.exists()
    assert len(list(spooled.glob("*.json"))) == 1
    assert spool.drain_spool().taken == 1
    assert Lead.objects.count() == 1


def test_without_a_spool_an_anonymous_capture_is_taken_in_before_its_answer(
    routed, secret, settings
):
    settings.LEADS_SPOOL_DIR = ""  # an in-memory test database: no spool

    response = _api_post(inquiry(2), secret)

    assert response.status_code == 202
    assert Lead.objects.count() == 1


def test_a_capture_token_is_answered_received_while_an_import_holds_sqlite(
    sqlite_file, routed, olivia, client, other_writer
):
    secret = create_token(olivia, "website")[1]
    other_writer.execute("BEGIN IMMEDIATE")

    response = client.post(
        API,
        json.dumps(inquiry(2)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 202
    assert response.json()["outcome"] == "received"
    assert not Lead.objects.exists()
    other_writer.execute("ROLLBACK")
    assert spool.drain_spool().taken == 1
    assert Lead.objects.get().created_by == olivia
