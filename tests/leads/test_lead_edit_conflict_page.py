"""Going on after a refused edit on a lead's page: a 409 shows the lead as it
is now in the fields that changed meanwhile, with what was typed beside
them, keeps the person's other changes and carries the current version, so
Save applies the edit knowingly; the address a refusal leaves in the
browser leads back to the lead."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from dealgate.leads.edits import edit_lead
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead
from dealgate.leads.versions import EDITABLE, lead_version
from tests.web.helpers import text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1, company=None), source="form").lead
    assert lead.owner == alice
    return lead


class _EditForm(HTMLParser):
    """The inputs of the edit form in a lead's page, as a browser sends them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "form":
            self.inside = found.get("action") == self.action
        elif tag == "input" and self.inside and found.get("name"):
            self.values[found["name"]] = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _form_in(response, lead: Lead) -> dict[str, str]:
    parser = _EditForm(f"/leads/{lead.pk}/edit/")
    parser.feed(response.content.decode())
    return parser.values


def _shown(lead: Lead, **typed) -> dict[str, str]:
    """The edit form as the page showed `lead`, with `typed` typed into it."""
    values = {
        name: "" if getattr(lead, name) is None else str(getattr(lead, name))
        for name in EDITABLE
    }
    return {**values, "version": lead_version(lead), **typed}


def test_a_409_shows_what_changed_meanwhile_and_a_second_save_applies(
    client, lead, alice, max_manager
):
    client.force_login(alice)
    typed = _shown(lead, segment="SMB")
    # Another tab sets the phone the form shows empty.
    edit_lead(
        lead.pk, {"phone": "030 1234567"}, by=max_manager, version=lead_version(lead)
    )

    refused = client.post(f"/leads/{lead.pk}/edit/", typed)
    form = _form_in(refused, lead)
    again = client.post(f"/leads/{lead.pk}/edit/", form)

    assert refused.status_code == 409
    assert "Not saved: phone changed meanwhile" in text_of(refused)
    assert "Changed meanwhile: this is what it holds now." in text_of(refused)
    assert "You typed" not in text_of(refused)
    lead.refresh_from_db()
    assert (form["phone"], form["segment"]) == ("030 1234567", "SMB")
    assert again.status_code == 302 and again.url == f"/leads/{lead.pk}/"
    assert (lead.phone, lead.phone_e164, lead.segment) == (
        "030 1234567",
        "+49301234567",
        "SMB",
    )


def test_a_field_both_changed_shows_the_value_now_with_what_was_typed_beside(
    client, lead, alice, max_manager
):
    client.force_login(alice)
    typed = _shown(lead, company="Initrode", website="initrode.example")
    edit_lead(lead.pk, {"company": "Initech"}, by=max_manager, version=typed["version"])

    refused = client.post(f"/leads/{lead.pk}/edit/", typed)

    assert refused.status_code == 409
    form = _form_in(refused, lead)
    lead.refresh_from_db()
    assert form["company"] == "Initech" and form["website"] == "initrode.example"
    assert form["version"] == lead_version(lead) != typed["version"]
    assert "You typed: “Initrode”." in text_of(refused)
    assert 'aria-describedby="edit-company-changed"' in refused.content.decode()


def test_an_emptied_field_changed_meanwhile_says_it_was_emptied(
    client, lead, alice, max_manager
):
    client.force_login(alice)
    typed = _shown(lead, name="")
    edit_lead(lead.pk, {"name": "Pat"}, by=max_manager, version=typed["version"])

    refused = client.post(f"/leads/{lead.pk}/edit/", typed)

    assert refused.status_code == 409
    assert _form_in(refused, lead)["name"] == "Pat"
    assert "You typed: nothing (emptied)." in text_of(refused)


def test_a_422_keeps_what_was_typed_on_the_version_it_was_made_on(client, lead, alice):
    client.force_login(alice)
    typed = _shown(lead, country="Germany", segment="SMB")

    refused = client.post(f"/leads/{lead.pk}/edit/", typed)

    assert refused.status_code == 422
    form = _form_in(refused, lead)
    assert (form["country"], form["segment"]) == ("Germany", "SMB")
    assert form["version"] == typed["version"]
    assert "Changed meanwhile" not in text_of(refused)


def test_loading_the_edit_address_leads_to_the_lead(client, lead, alice):
    client.force_login(alice)

    response = client.get(f"/leads/{lead.pk}/edit/")

    assert response.status_code == 302
    assert response.url == f"/leads/{lead.pk}/#edit"


def test_the_page_says_a_stored_number_keeps_its_reading(client, routed, alice, now):
    lead = capture_lead(inquiry(1, phone="030 1234567"), source="form").lead
    client.force_login(alice)

    page = text_of(client.get(f"/leads/{lead.pk}/"))

    assert "Stored as +49301234567. It is read again only when the number" in page
