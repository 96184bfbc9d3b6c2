"""In a real chromium: what the website's lead form lets a visitor type, it
takes. The textarea's maxlength counts a line break as one character while
the browser sends it as two, and a browser checks a type="email" input by
rules that refuse an umlaut before the "@"; the inputs are text, with the
keyboard and suggestions of an email input, under the pages' policy.

Debian's chromium, as in tests/web/test_board_browser.py: skipped without
it, unless DEALGATE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead
from tests.web.test_board_browser import (  # noqa: F401 - fixtures
    CHROMIUM_ARGS,
    chromium_path,
    signed_in_page,
)
from tests.web.test_csp_browser import WATCH

from .conftest import inquiry

pytestmark = pytest.mark.browser


def test_a_message_at_the_textareas_limit_with_line_breaks_is_taken(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    routed,
    now,
):
    # 4,991 characters and 9 line breaks: all the textarea lets in.
    message = "\n".join(["x" * 500] + ["y" * 499] * 9)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/leads/form/{routed.key}/")
            page.get_by_label("Your name").fill("Jörg Ümlaut")
            page.get_by_label("Email").fill("jörg@ümlaut.de")
            page.get_by_label("Country code").fill("de")
            page.get_by_label("How can we help?").fill(message)
            typed = page.get_by_label("How can we help?").input_value()
            page.get_by_role("button", name="Send").click()

            expect(page.locator("h1")).to_contain_text("Thank you")
        finally:
            browser.close()

    assert len(typed) == 5000
    lead = Lead.objects.get()
    assert lead.message == message
    assert (lead.email_key, lead.country) == ("jörg@xn--mlaut-jva.de", "DE")


def test_a_country_typed_as_a_name_is_asked_for_as_a_code_not_cut_to_two_letters(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    routed,
    now,
):
    # With maxlength="2", "Germany" became "Ge": Georgia's code, taken.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/leads/form/{routed.key}/")
            page.get_by_label("Email").fill("anna@initech.example")
            page.get_by_label("Country code").fill("Germany")
            page.get_by_role("button", name="Send").click()

            expect(page.locator("p.error")).to_have_text(
                "Country: must be a two-letter ISO 3166 code such as DE or US, "
                "not 'Germany'"
            )
            expect(page.get_by_label("Country code")).to_have_value("Germany")
        finally:
            browser.close()

    assert not Lead.objects.exists()


def test_the_edit_form_takes_an_internationalised_email_under_the_policy(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    routed,
    alice,
    now,
):
    lead = capture_lead(inquiry(1), source="form").lead
    with signed_in_page(live_server, chromium_path, "alice") as page:
        page.add_init_script(WATCH)
        page.goto(f"{live_server.url}/leads/{lead.pk}/")
        email = page.locator("#edit-email")
        kinds = [email.get_attribute(a) for a in ("type", "inputmode", "autocomplete")]
        email.fill("jörg@ümlaut.de")
        page.get_by_role("button", name="Save").click()

        expect(page.locator("ul.messages")).to_contain_text("Lead saved.")
        violations = page.evaluate("window.__violations")

    assert kinds == [None, "email", "email"]
    assert violations == []
    lead.refresh_from_db()
    assert lead.email_key == "jörg@xn--mlaut-jva.de"
