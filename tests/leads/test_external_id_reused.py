"""An external_id sent again with the same inquiry finds the first capture;
another inquiry under it is never swallowed (found by hap: answered `known`
and kept nowhere). An API caller told what became of its lead is refused,
naming external_id, as a deal's reused Idempotency-Key is; a capture token
(a website's form plugin, answered before the capture) and an inquiry kept
in the spool are captured by the usual rules without the id, with a warning
naming it; an import counts the row as already present and warns."""

from __future__ import annotations

import json
import logging

import pytest

from dealgate.leads.edits import edit_lead
from dealgate.leads.imports import import_leads
from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import lead_version
from tests.conftest import REPO_ROOT

from .conftest import inquiry

URL = "/api/v1/leads"
REPO_DATA = REPO_ROOT / "tests" / "data" / "leads"
MAPPING = str(REPO_DATA / "website-leads.toml")


def post(client, data, secret):
    return client.post(
        URL,
        json.dumps(data),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_the_same_inquiry_sent_again_finds_the_first_capture(routed, now):
    first = capture_lead(inquiry(1, external_id="entry-1"), source="api")

    again = capture_lead(inquiry(1, external_id="entry-1"), source="api")

    assert not again.created and again.lead == first.lead
    assert "same external_id" in again.reason
    assert Lead.objects.count() == 1 and not DedupDecision.objects.exists()


def test_another_inquiry_under_a_known_id_is_kept_without_it_and_warned_of(
    routed, now, caplog
):
    first = capture_lead(inquiry(1, external_id="entry-1"), source="api").lead

    with caplog.at_level(logging.WARNING, logger="dealgate.leads"):
        other = capture_lead(inquiry(2, external_id="entry-1"), source="api")

    assert other.created
    assert (other.lead.email, other.lead.external_id) == (
        "person2@company2.example",
        "",
    )
    assert Lead.objects.get(external_id="entry-1") == first
    assert f"external_id 'entry-1', already used by lead {first.pk}" in caplog.text


def test_another_inquiry_under_the_id_of_a_repeat_is_kept_too(routed, now):
    capture_lead(inquiry(1), source="api")
    repeat = capture_lead(inquiry(1, message="again", external_id="e-2"), source="api")

    other = capture_lead(inquiry(2, external_id="e-2"), source="api")

    assert repeat.decision is not None
    assert other.created and other.lead.email == "person2@company2.example"


def test_a_resend_after_the_lead_was_edited_still_finds_it(routed, alice, now):
    first = capture_lead(inquiry(1, external_id="entry-1"), source="api").lead
    edit_lead(first.pk, {"name": "Pat Doe"}, by=alice, version=lead_version(first))

    again = capture_lead(inquiry(1, external_id="entry-1"), source="api")

    assert not again.created and again.lead == first
    assert Lead.objects.count() == 1


def test_an_api_caller_is_refused_another_inquiry_under_a_used_id(
    client, routed, olivia, now
):
    secret = create_token(olivia, "crm", scope="leads")[1]
    first = post(client, inquiry(1, external_id="entry-1"), secret).json()

    refused = post(client, inquiry(2, external_id="entry-1"), secret)
    same = post(client, inquiry(1, external_id="entry-1"), secret)

    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["field"]) == ("external_id_reused", "external_id")
    assert f"lead {first['lead']['id']}" in body["message"]
    assert not Lead.objects.filter(email="person2@company2.example").exists()
    assert (same.status_code, same.json()["outcome"]) == (200, "known")


def test_a_capture_token_never_loses_another_inquiry_under_a_used_id(
    client, routed, olivia, now
):
    secret = create_token(olivia, "website")[1]
    post(client, inquiry(1, external_id="entry-1"), secret)

    answer = post(client, inquiry(2, external_id="entry-1"), secret)

    assert answer.status_code == 202
    assert Lead.objects.filter(email="person2@company2.example").exists()


@pytest.fixture
def changed_file(tmp_path):
    """The website's export with its record 3 now another person's."""
    lines = (REPO_DATA / "website-leads.csv").read_text().splitlines()
    lines = [
        "3,Dora Blanc,dora@delta.fr,,Delta SA,FR," if line.startswith("3,") else line
        for line in lines
    ]
    path = tmp_path / "website-leads.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_import_counts_another_record_under_a_known_id_and_warns(
    routed, now, changed_file
):
    import_leads(REPO_DATA / "website-leads.csv", MAPPING, pipeline=routed)

    again = import_leads(changed_file, MAPPING, pipeline=routed)

    assert again.already_present == 4 and again.leads_created == 0
    assert any("other content" in text for text in again.warnings)
    assert Lead.objects.get(external_id="website:3").name == "Carla Rossi"
