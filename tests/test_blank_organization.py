"""An organization typed as spaces alone is refused as one of invisible
characters is, by one rule (`core.text.optional_text`), at every door that
takes a deal's organization: the deal's edit form (where spaces once cleared
the organization unseen), the New deal page and the API. Left empty, the
field still means no organization. A deals file trims its cells, so a cell
of spaces is an empty one there; a lead's company of spaces or invisible
characters names none (docs/leads.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.core.text import optional_problem, optional_text
from dealgate.deals.models import Deal, Organization
from dealgate.deals.services import create_deal
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from dealgate.leads.services import capture_lead, convert_lead
from tests.conftest import PASSWORD
from tests.importing import make_import_pipeline, write_csv, write_mapping
from tests.web.helpers import text_of

NOTHING_VISIBLE = ["   ", "\u200b", "\u00a0\u2800 \u3164", " \u200b\ufeff "]
SPACES = "holds no visible characters (U+0020, U+0020, U+0020)"
HINT = "give a name, or leave it empty for none"


@pytest.mark.parametrize("given", [None, ""])
def test_an_optional_text_not_given_is_none(given):
    assert optional_text(given, "organization") is None
    assert optional_problem("", "organization") is None


def test_an_optional_text_with_something_visible_is_kept_trimmed():
    assert optional_text("  Acme\u200b ", "organization") == "Acme\u200b"


@pytest.mark.parametrize("given", NOTHING_VISIBLE)
def test_an_optional_text_of_nothing_visible_is_refused_naming_the_field(given):
    with pytest.raises(ValidationError) as refused:
        optional_text(given, "organization")

    assert refused.value.field == "organization"
    assert refused.value.message.startswith("organization: ")
    assert "holds no visible characters (U+" in refused.value.message
    assert refused.value.message.endswith("; leave it empty for none")


def test_spaces_alone_are_quoted_with_their_code_points_as_invisible_text_is():
    assert optional_problem("   ", "") == f"{SPACES}; leave it empty for none"
    assert optional_problem(" \u200b ", "") == (
        "holds no visible characters (U+200B); leave it empty for none"
    )


@pytest.fixture
def acme_deal(pipeline, alice, now) -> Deal:
    return create_deal(pipeline, {"title": "Backup", "organization": "Acme"}, by=alice)


def _edit(client, deal: Deal, organization: str):
    return client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, "organization": organization},
    )


@pytest.mark.parametrize("typed", NOTHING_VISIBLE)
def test_the_edit_form_refuses_an_organization_of_nothing_visible_and_keeps_it(
    client, acme_deal, alice, typed
):
    client.force_login(alice)

    response = _edit(client, acme_deal, typed)

    assert response.status_code == 422
    assert "Organization: holds no visible characters (U+" in text_of(response)
    acme_deal.refresh_from_db()
    assert acme_deal.organization.name == "Acme" and acme_deal.version == 1


def test_the_edit_form_says_which_characters_spaces_alone_are(client, acme_deal, alice):
    client.force_login(alice)

    response = _edit(client, acme_deal, "   ")

    shown = f"Organization: {SPACES}; {HINT}".replace("'", "&#x27;")
    assert shown in response.content.decode()


def test_the_edit_form_left_empty_clears_the_organization(client, acme_deal, alice):
    client.force_login(alice)

    response = _edit(client, acme_deal, "")

    assert response.status_code == 302
    acme_deal.refresh_from_db()
    assert acme_deal.organization is None


@pytest.mark.parametrize("typed", ["   ", "\u200b"])
def test_the_new_deal_page_refuses_an_organization_of_nothing_visible(
    client, pipeline, alice, typed
):
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline=new-business",
        {"title": "Backup", "organization": typed, "owner": "alice"},
    )

    assert response.status_code == 422
    assert "holds no visible characters" in text_of(response)
    assert not Deal.objects.exists() and not Organization.objects.exists()


@pytest.mark.parametrize("typed", ["   ", "\u200b"])
def test_the_api_refuses_an_organization_of_nothing_visible_on_an_edit(
    client, acme_deal, typed
):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{acme_deal.pk}",
        {"version": acme_deal.version, "organization": typed},
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "organization"
    assert "holds no visible characters (U+" in body["message"]
    assert body["message"].endswith(HINT)
    acme_deal.refresh_from_db()
    assert acme_deal.organization.name == "Acme"


@pytest.mark.parametrize("cleared", ["", None])
def test_the_api_clears_the_organization_when_given_none(client, acme_deal, cleared):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{acme_deal.pk}",
        {"version": acme_deal.version, "organization": cleared},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["organization"] is None


def test_a_deals_file_reads_a_cell_of_spaces_as_empty_and_refuses_invisible_text(
    db, tmp_path
):
    sales = make_import_pipeline()
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\norganization = "Account"\n'
    )
    path = write_csv(tmp_path, "Deal,Account\nA,   \nB,\u200b\n")

    report = import_deals(path, mapping, pipeline=sales)

    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: Account: holds no visible characters (U+200B)"
    ]
    assert report.warnings["Account empty, deal has no organization"] == 1


@pytest.mark.parametrize("company", ["   ", "\u200b"])
def test_a_lead_whose_company_shows_nothing_becomes_a_deal_without_organization(
    pipeline, olivia, now, company
):
    lead = capture_lead(
        {"name": "Pat", "email": "pat@example.org", "company": company}, source="api"
    ).lead

    deal = convert_lead(lead.pk, by=olivia)

    assert deal.organization is None and deal.title == "Pat"
