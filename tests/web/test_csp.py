"""Every answer carries the Content-Security-Policy; only the website's lead
form may be framed by other sites."""

from __future__ import annotations

import re

import pytest

from dealgate.web.csp import POLICY

pytestmark = pytest.mark.django_db


def test_a_page_allows_only_this_sites_scripts_and_styles_and_no_framing(
    client, alice, pipeline
):
    client.force_login(alice)

    response = client.get("/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert policy == f"{POLICY}; frame-ancestors 'none'"
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy


def test_the_lead_form_may_be_framed_and_holds_no_inline_style(client, pipeline):
    response = client.get(f"/leads/form/{pipeline.key}/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY
    assert "X-Frame-Options" not in response
    assert not re.search(r"\sstyle=|<style|<script>", response.content.decode())


def test_an_error_answer_carries_the_policy_too(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_the_lead_form_may_be_answered_with_its_thank_you_page_elsewhere(
    client, pipeline
):
    pipeline.settings = {
        **(pipeline.settings or {}),
        "lead_form": {"thanks_url": "https://www.example.com/thanks?from=form"},
    }
    pipeline.save(update_fields=["settings"])

    page = client.get(f"/leads/form/{pipeline.key}/")

    # A browser holds the redirect after a form is sent to form-action too.
    assert "form-action 'self' https://www.example.com;" in (
        page["Content-Security-Policy"] + ";"
    )
    assert "Dealgate" not in page.content.decode()  # no way into the app


def test_a_page_without_a_thank_you_address_sends_its_form_only_here(client, alice):
    client.force_login(alice)

    policy = client.get("/").headers["Content-Security-Policy"]

    assert "form-action 'self';" in policy


def test_an_answer_from_the_outer_layers_carries_the_policy_and_no_framing(client):
    response = client.get("/leads/?q=%00")

    assert response.status_code == 400
    assert "Content-Security-Policy" in response
    assert response["X-Frame-Options"] == "DENY"


def test_a_form_sent_with_a_stale_token_gets_the_sites_page(alice, pipeline):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    response = browser.post("/leads/new/", {"name": "Ann"})

    assert response.status_code == 403
    text = response.content.decode()
    assert "Go back, reload the page, and send the form again." in text
    assert "<style" not in text
