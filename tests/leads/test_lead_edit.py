"""Editing a lead's own fields: on its page and with PATCH /api/v1/leads/ID,
read as a capture reads them, with its de-duplication keys written again,
guarded by the version that was read, and logged without the values."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from dealgate.errors import Conflict, PermissionDenied, ValidationError
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.services import capture_lead, disqualify_lead
from dealgate.leads.tokens import create_token
from dealgate.leads.versions import EDITABLE, VERSIONED, changed_since, lead_version
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1, company=None), source="form").lead
    assert lead.owner == alice
    return lead


def _edit(lead: Lead, by, **changes) -> Lead:
    return edit_lead(lead.pk, changes, by=by, version=lead_version(lead))


def test_an_edit_stores_the_fields_and_their_keys_as_a_capture_would(lead, alice):
    _edit(
        lead,
        alice,
        email=" Anna@Initech.example ",
        phone="030 1234567",
        company="Initech GmbH",
        website="initech.example",
        country="de",
        value="12000",
        company_size="45",
    )

    lead.refresh_from_db()
    assert (lead.email, lead.email_key) == (
        "Anna@Initech.example",
        "anna@initech.example",
    )
    assert (lead.phone, lead.phone_e164) == ("030 1234567", "+49301234567")
    assert (lead.company, lead.company_key, lead.company_block) == (
        "Initech GmbH",
        "initech",
        "init",
    )
    assert lead.company_match == "init"
    assert (lead.website, lead.domain) == ("https://initech.example", "initech.example")
    assert (lead.country, lead.value, lead.company_size) == (
        "DE",
        Decimal("12000.00"),
        45,
    )


def test_an_address_at_a_mailbox_provider_leaves_the_lead_no_company_domain(
    lead, alice
):
    assert lead.domain == "company1.example"

    _edit(lead, alice, email="person1@gmail.com")

    lead.refresh_from_db()
    assert (lead.email_key, lead.domain) == ("person1@gmail.com", "")


def test_a_repeat_finds_the_lead_by_its_edited_email_not_its_old_one(lead, alice):
    _edit(lead, alice, email="new@initech.example")

    old = capture_lead(inquiry(9, email="person1@company1.example"), source="api")
    new = capture_lead(inquiry(8, email="NEW@initech.example"), source="api")

    assert old.created
    assert not new.created and new.decision.lead_id == lead.pk


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"email": "anna@@x"}, "email", "is not an email address"),
        ({"phone": "12"}, "phone", "is not a"),
        ({"country": "Germany"}, "country", "two-letter ISO 3166 code"),
        ({"website": "javascript:alert(1)"}, "website", "http:// or https://"),
        ({"company_size": "many"}, "company_size", "is not a whole number"),
        ({"value": "12,50"}, "value", "is not a number"),
        ({"name": "x" * 201}, "name", "the limit is 200"),
        ({"email": "", "phone": ""}, "email", "an email address or a phone number"),
        (
            {"message": "new text"},
            "message",
            "not a field of a lead that can be edited",
        ),
        ({"owner": "bob"}, "owner", "not a field of a lead that can be edited"),
    ],
)
def test_a_value_a_capture_refuses_is_refused_naming_the_field(
    lead, alice, changes, field, says
):
    before = lead_version(lead)

    with pytest.raises(ValidationError, match=says) as refused:
        _edit(lead, alice, **changes)

    assert refused.value.field == field
    lead.refresh_from_db()
    assert lead_version(lead) == before


def test_the_owner_a_manager_and_an_admin_may_edit_another_rep_may_not(
    lead, alice, bob, max_manager, olivia
):
    with pytest.raises(
        PermissionDenied, match="owner, a manager or an admin may edit it"
    ):
        _edit(lead, bob, company="Bob's pick")

    for person, company in ((alice, "A"), (max_manager, "B"), (olivia, "C")):
        lead.refresh_from_db()
        _edit(lead, person, company=company)
    lead.refresh_from_db()
    assert lead.company == "C"


@pytest.mark.parametrize("version", ["", "not a version"])
def test_a_rep_who_may_not_edit_the_lead_is_refused_before_the_version_is_read(
    lead, bob, version
):
    with pytest.raises(PermissionDenied, match="may edit it"):
        edit_lead(
            lead.pk, {"company": "Bob's pick", "fax": "1"}, by=bob, version=version
        )

    lead.refresh_from_db()
    assert lead.company == ""


def test_an_edit_on_an_old_copy_is_a_conflict_naming_what_changed(
    lead, alice, max_manager
):
    seen = lead_version(lead)
    edit_lead(
        lead.pk,
        {"company": "Initech", "phone": "+49 30 1234567"},
        by=max_manager,
        version=seen,
    )

    with pytest.raises(Conflict, match="phone, company changed meanwhile"):
        edit_lead(lead.pk, {"company": "Initrode"}, by=alice, version=seen)

    lead.refresh_from_db()
    assert lead.company == "Initech"


def test_an_edit_that_changes_nothing_keeps_the_version(lead, alice):
    before = lead_version(lead)

    _edit(lead, alice, name=f" {lead.name} ", company="")

    lead.refresh_from_db()
    assert lead_version(lead) == before


def test_a_version_tells_each_field_apart(lead, bob):
    seen = lead_version(lead)
    lead.segment, lead.value, lead.owner = "SMB", Decimal("5.00"), bob

    assert changed_since(seen, lead) == ["segment", "value", "owner"]
    assert changed_since(seen, lead, EDITABLE) == ["segment", "value"]
    assert len(seen) == 8 * len(VERSIONED)


def test_an_edit_made_after_the_lead_changed_hands_is_saved(lead, alice, bob):
    seen = lead_version(lead)
    Lead.objects.filter(pk=lead.pk).update(owner=bob)

    edit_lead(lead.pk, {"company": "Initech"}, by=bob, version=seen)

    lead.refresh_from_db()
    assert lead.company == "Initech"


def test_an_edit_takes_a_version_read_before_versions_held_the_owner(lead, alice):
    older = lead_version(lead)[: 8 * len(EDITABLE)]

    edit_lead(lead.pk, {"company": "Initech"}, by=alice, version=older)

    lead.refresh_from_db()
    assert lead.company == "Initech"


def test_a_closed_lead_is_not_edited(lead, alice, olivia):
    disqualify_lead(lead.pk, "a student project", by=olivia)
    lead.refresh_from_db()

    with pytest.raises(Conflict, match="is disqualified; only an open lead"):
        _edit(lead, alice, company="Initech")


def test_the_log_names_the_lead_fields_and_person_never_the_values(
    lead, alice, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="dealgate.leads"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _edit(lead, alice, email="secret.person@initech.example", company="Initech")

    said = [r.getMessage() for r in caplog.records if r.name == "dealgate.leads"]
    assert said == [f"lead {lead.pk} edited by alice: email, company"]
    assert "secret.person" not in caplog.text and "Initech" not in caplog.text


# --- the lead's page --------------------------------------------------------


def _form(lead: Lead, **fields) -> dict[str, str]:
    shown = {
        name: "" if getattr(lead, name) is None else str(getattr(lead, name))
        for name in EDITABLE
    }
    return {**shown, "version": lead_version(lead), **fields}


def test_the_page_edits_a_lead_and_comes_back_to_it(client, lead, alice):
    client.force_login(alice)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(f"/leads/{lead.pk}/edit/", _form(lead, company="Initech AG"))

    assert f'name="version" value="{lead_version(lead)}"' in page
    # Plain text inputs: a browser checks type="email" by rules that refuse
    # an internationalised address the lead may hold.
    assert 'id="edit-email" inputmode="email"' in page and 'type="email"' not in page
    assert response.status_code == 302 and response.url == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert lead.company == "Initech AG"


def test_a_refused_edit_shows_the_page_with_422_keeping_what_was_typed(
    client, lead, alice
):
    client.force_login(alice)

    response = client.post(
        f"/leads/{lead.pk}/edit/", _form(lead, country="Germany", company="Initech AG")
    )

    assert response.status_code == 422
    assert (
        "Country: must be a two-letter ISO 3166 code such as DE or US, not 'Germany'"
        in text_of(response)
    )
    page = response.content.decode()
    assert 'value="Germany"' in page and 'value="Initech AG"' in page
    lead.refresh_from_db()
    assert lead.company == "" and lead.country == "DE"


def test_a_stale_page_is_409_naming_the_field_and_shows_what_was_typed(
    client, lead, alice, max_manager
):
    client.force_login(alice)
    form = _form(lead, company="Initrode")
    _edit(lead, max_manager, company="Initech")

    response = client.post(f"/leads/{lead.pk}/edit/", form)

    assert response.status_code == 409
    assert "company changed meanwhile" in text_of(response)
    assert "You typed: “Initrode”" in text_of(response)
    lead.refresh_from_db()
    assert lead.company == "Initech"


def test_another_rep_sees_no_edit_form_and_is_refused_with_403(client, lead, bob):
    client.force_login(bob)

    page = client.get(f"/leads/{lead.pk}/").content.decode()
    response = client.post(f"/leads/{lead.pk}/edit/", _form(lead, company="Mine"))

    assert f'action="/leads/{lead.pk}/edit/"' not in page
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.company == ""


def test_a_lead_without_a_company_converts_once_the_company_is_edited_in(
    client, it_services_leads, alice
):
    lead = capture_lead(inquiry(1, company=None), source="form").lead
    client.force_login(alice)
    refused = client.post(f"/leads/{lead.pk}/convert/", {"stage": "inquiry"})

    client.post(f"/leads/{lead.pk}/edit/", _form(lead, company="Initech AG"))
    converted = client.post(f"/leads/{lead.pk}/convert/", {"stage": "inquiry"})

    assert refused.status_code == 422
    assert "The buyer's company is known" in text_of(refused)
    assert converted.status_code == 302
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    assert lead.deal.organization.name == "Initech AG"


@pytest.fixture
def it_services_leads(db, team, demo_people, alice, now):
    """The example IT-services pipeline, its leads routed to alice."""
    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import apply_pipeline
    from tests.conftest import IT_SERVICES

    apply_pipeline(load_pipeline_file(IT_SERVICES))
    pipeline = Pipeline.objects.get(key="it-services")
    pipeline.settings = {
        **pipeline.settings,
        "routing": [{"name": "all", "to": "user:alice", "fallback": True}],
    }
    pipeline.save()
    return pipeline


def test_the_admin_shows_a_lead_read_only_and_links_to_its_edit_form(admin, lead):
    page = admin.get(f"/admin/leads/lead/{lead.pk}/change/")

    assert page.status_code == 200
    assert f'href="/leads/{lead.pk}/"' in page.content.decode()
    refused = admin.post(f"/admin/leads/lead/{lead.pk}/change/", {"company": "X"})
    assert refused.status_code == 403


# --- PATCH /api/v1/leads/ID -------------------------------------------------


def _patch(client, lead_id: int, body: dict, secret: str):
    return client.patch(
        f"/api/v1/leads/{lead_id}",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_patch_edits_with_the_version_get_answered(client, lead, alice):
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    read = client.get(
        f"/api/v1/leads/{lead.pk}", headers={"Authorization": f"Bearer {secret}"}
    )

    response = _patch(
        client,
        lead.pk,
        {"version": read.json()["version"], "company": "Initech AG", "country": "at"},
        secret,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["company"], body["country"]) == ("Initech AG", "AT")
    assert body["version"] != read.json()["version"]
    lead.refresh_from_db()
    assert lead.company_key == "initech"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"company": "Initech"}, "version"),
        ({"version": "old", "company": "Initech"}, "version"),
        ({"version": "read", "country": "Germany"}, "country"),
        ({"version": "read", "source": "partner"}, "source"),
    ],
)
def test_patch_refusals_are_422_naming_the_field(client, lead, alice, body, field):
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    if body.get("version") == "read":
        body = {**body, "version": lead_version(lead)}

    response = _patch(client, lead.pk, body, secret)

    assert response.status_code == 422
    assert response.json()["field"] == field
    lead.refresh_from_db()
    assert lead.company == "" and lead.country == "DE"


def test_patch_on_an_old_version_is_409_naming_what_changed(
    client, lead, alice, max_manager
):
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    seen = lead_version(lead)
    _edit(lead, max_manager, segment="SMB")

    response = _patch(
        client, lead.pk, {"version": seen, "segment": "Enterprise"}, secret
    )

    assert response.status_code == 409
    assert "segment changed meanwhile" in response.json()["message"]


def test_patch_needs_a_token_that_opens_more_than_the_lead_endpoints(
    client, lead, alice
):
    secret = create_token(alice, "website", scope=ApiToken.Scope.LEADS)[1]

    response = _patch(
        client, lead.pk, {"version": lead_version(lead), "company": "X"}, secret
    )

    assert response.status_code == 403
    assert "leads,deals" in response.json()["message"]
    lead.refresh_from_db()
    assert lead.company == ""


def test_patch_without_a_version_by_another_rep_is_403_naming_admins_too(
    client, lead, bob
):
    secret = create_token(bob, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]

    response = _patch(client, lead.pk, {"company": "X"}, secret)

    assert response.status_code == 403
    assert response.json()["message"] == (
        "only the lead's owner, a manager or an admin may edit it"
    )
    lead.refresh_from_db()
    assert lead.company == ""


def test_patch_by_another_rep_is_403(client, lead, bob):
    secret = create_token(bob, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]

    response = _patch(
        client, lead.pk, {"version": lead_version(lead), "company": "X"}, secret
    )

    assert response.status_code == 403


def test_the_edit_and_the_version_are_in_the_schema(client):
    schema = client.get("/api/v1/openapi.json").json()

    patch = schema["paths"]["/api/v1/leads/{lead_id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["version"]
    assert set(body["properties"]) == {"version", *EDITABLE}
    assert {"200", "403", "404", "409", "422"} <= set(patch["responses"])
    assert "version" in schema["components"]["schemas"]["LeadOut"]["properties"]
