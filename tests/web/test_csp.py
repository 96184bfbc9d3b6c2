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
