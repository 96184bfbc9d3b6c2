"""A lead's website is an http or https address, at every door that takes
one (the API, the public form, the New lead page, a lead import), checked
by one checker: a bare domain gets https:// in front, and any other scheme
(javascript:, data:, ftp:) or a scheme-relative address is refused, naming
the field and the schemes allowed."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dealgate.leads.imports import import_leads
from dealgate.leads.models import Lead
from dealgate.leads.normalize import website_url
from dealgate.leads.tokens import create_token
from tests.leads.conftest import inquiry

HOSTILE = [
    "javascript://host/%0aalert(document.cookie)",
    "JavaScript://acme.example/%0Aalert(1)",
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript://acme.example/",
    "ftp://acme.example/",
    "//acme.example/",
    "https:acme.example",
    "https://",
    "https://acme.example/\tpath",
]
SCHEMES = "website must be an http:// or https:// address"
# A page names the field by its label, before the message.
ON_PAGE = "Website: must be an http:// or https:// address"


@pytest.mark.parametrize("text", HOSTILE)
def test_only_http_and_https_addresses_are_websites(text):
    with pytest.raises(ValueError, match=SCHEMES):
        website_url(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("https://acme.example/contact", "https://acme.example/contact"),
        ("HTTP://Acme.example", "HTTP://Acme.example"),
        ("acme.example", "https://acme.example"),
        ("www.acme.example/team", "https://www.acme.example/team"),
        ("acme.example:8080/x", "https://acme.example:8080/x"),
        ("  ", ""),
    ],
)
def test_a_bare_domain_becomes_an_https_address(text, kept):
    assert website_url(text) == kept


@pytest.mark.parametrize("text", HOSTILE[:5])
def test_the_api_refuses_a_website_of_another_scheme(client, routed, olivia, text, now):
    secret = create_token(olivia, "website")[1]

    response = client.post(
        "/api/v1/leads",
        json.dumps(inquiry(website=text)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "website"
    assert SCHEMES in response.json()["message"]
    assert not Lead.objects.exists()


def test_the_api_keeps_a_bare_domain_as_an_https_address(client, routed, olivia, now):
    secret = create_token(olivia, "website", scope="leads")[1]

    response = client.post(
        "/api/v1/leads",
        json.dumps(inquiry(website="berg-it.example")),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.website, lead.domain) == ("https://berg-it.example", "berg-it.example")


def test_the_public_form_refuses_a_javascript_website(client, routed, now):
    response = client.post("/leads/form/new-business/", inquiry(website=HOSTILE[0]))

    assert response.status_code == 422
    assert ON_PAGE in response.content.decode()
    assert not Lead.objects.exists()


def test_the_new_lead_page_refuses_a_javascript_website(routed, alice, now):
    client = Client()
    client.force_login(alice)

    response = client.post("/leads/new/", inquiry(website=HOSTILE[0]))

    assert response.status_code == 422
    assert ON_PAGE in response.content.decode()
    assert not Lead.objects.exists()


def test_a_lead_import_names_the_website_of_another_scheme(routed, now, tmp_path):
    mapping = tmp_path / "leads.toml"
    mapping.write_text(
        'source = "web"\n[columns]\nname = "Name"\nemail = "Email"\n'
        'website = "Web"\ncountry = "Land"\n'
    )
    rows = tmp_path / "leads.csv"
    rows.write_text(
        "Name,Email,Web,Land\n"
        f"Ida,ida@berg.example,{HOSTILE[0]},DE\n"
        "Jan,jan@acme.example,acme.example,DE\n"
    )

    report = import_leads(rows, str(mapping), pipeline=routed, all_or_nothing=False)

    assert [(bad.line, bad.column) for bad in report.bad_rows] == [(2, "Web")]
    assert list(Lead.objects.values_list("website", flat=True)) == [
        "https://acme.example"
    ]
