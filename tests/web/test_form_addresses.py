"""A visit (GET or HEAD) to an address that only takes a form leads to the
page the form is on, for every such address of the site, instead of a blank
405 (dealgate.web.form_addresses)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dealgate.deals.models import Deal
from dealgate.web.form_addresses import FORM_PAGES
from tests.web.helpers import make_deal, text_of

# A value for each kind of argument in the site's URL patterns; a POST-only
# view refuses a GET before it looks anything up.
_SAMPLES = {"int": "1", "slug": "x", "str": "x"}


def _routes(patterns=None, prefix: str = "", space: str = "") -> list[tuple[str, str]]:
    """(address with sample arguments, URL name) of every pattern of the site
    but the API's and the admin's, which answer programs and Django's own."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(("api/", "admin/")):
            continue
        if isinstance(entry, URLResolver):
            inner = f"{space}{entry.namespace}:" if entry.namespace else space
            found += _routes(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            address = re.sub(
                r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES[m.group(1) or "str"], route
            )
            found.append(("/" + address, space + (entry.name or "")))
    return found


@pytest.fixture
def signed_in(admin):
    return admin


def test_no_address_of_the_site_answers_a_visit_with_a_bare_405(signed_in):
    refused = [
        address for address, _ in _routes() if signed_in.get(address).status_code == 405
    ]

    assert refused == []


@pytest.mark.parametrize("form", ["deal-move", "deal-edit", "deal-activity"])
def test_opening_a_deal_form_address_in_the_browser_leads_back_to_the_deal(
    signed_in, pipeline, now, form
):
    # After a refused move or edit the address bar shows /deals/ID/move/ (or
    # /edit/); pressing Enter there, or opening it from the history, is a GET.
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme")

    response = signed_in.get(reverse(form, kwargs={"deal_id": deal.pk}), follow=True)

    assert response.redirect_chain == [(f"/deals/{deal.pk}/", 302)]
    assert "Backup for Acme" in text_of(response)


def test_a_visit_to_a_deal_form_address_moves_and_changes_nothing(
    signed_in, pipeline, now
):
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme")

    signed_in.get(reverse("deal-move", args=[deal.pk]), {"to": "discovery"})
    signed_in.head(reverse("deal-edit", args=[deal.pk]), {"title": "Other"})

    deal.refresh_from_db()
    assert (deal.stage.key, deal.title, deal.status) == (
        "inquiry",
        "Backup for Acme",
        Deal.Status.OPEN,
    )


@pytest.mark.parametrize(
    ("address", "page"),
    [
        ("/pipelines/new/", "/pipelines/"),
        ("/pipelines/sales/edit/stages/review/remove/", "/pipelines/sales/edit/"),
        ("/pipelines/sales/edit/stages/", "/pipelines/sales/edit/"),
        (
            "/pipelines/sales/edit/stages/review/criteria/exit/2/",
            "/pipelines/sales/edit/stages/review/",
        ),
        ("/pipelines/sales/blueprint/draft/", "/pipelines/sales/blueprint/"),
        ("/deals/7/tasks/3/done/", "/deals/7/"),
        ("/notices/read/", "/notices/"),
        ("/logout/", "/"),
    ],
)
def test_a_builder_or_other_form_address_leads_to_the_page_its_form_is_on(
    signed_in, address, page
):
    response = signed_in.get(address)

    assert (response.status_code, response["Location"]) == (302, page)


def test_every_page_a_form_address_leads_to_exists():
    named = {name for _, name in _routes()} | {"admin:logout", "admin:index"}

    assert {page for page, _ in FORM_PAGES.values()} <= named
    assert set(FORM_PAGES) <= named


@pytest.mark.urls("tests.web.form_only_urls")
def test_a_form_address_named_nowhere_gets_the_sites_page_not_a_blank_one(
    signed_in,
):
    response = signed_in.get("/only-a-form/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "This address takes a form, not a visit" in text_of(response)
    assert "Back to the board" in text_of(response)
