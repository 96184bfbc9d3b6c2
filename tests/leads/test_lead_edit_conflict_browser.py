"""In a real chromium: a person whose edit met another tab's change goes on
from the 409 page as they would expect. The form shows the lead as it is
now where it changed, keeps what they typed elsewhere, and a second Save
applies it; reloading the address the refusal left in the browser shows the
lead, not an empty 405.

Debian's chromium, as in tests/web/test_board_browser.py: skipped without
it, unless DEALGATE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dealgate.leads.services import capture_lead
from tests.web.test_board_browser import (  # noqa: F401 - fixtures
    chromium_path,
    signed_in_page,
)

from .conftest import inquiry

pytestmark = pytest.mark.browser


def test_after_a_409_a_second_save_applies_the_edit_keeping_the_other_change(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    routed,
    alice,
    now,
):
    lead = capture_lead(inquiry(1), source="form").lead
    with signed_in_page(live_server, chromium_path, "alice") as page:
        page.goto(f"{live_server.url}/leads/{lead.pk}/")
        signed_in = page.context.storage_state()
        other_tab = page.context.browser.new_page(storage_state=signed_in)
        other_tab.goto(f"{live_server.url}/leads/{lead.pk}/")
        other_tab.locator("#edit-phone").fill("030 1234567")
        other_tab.get_by_role("button", name="Save").click()
        expect(other_tab.locator("ul.messages")).to_contain_text("Lead saved.")
        page.locator("#edit-segment").fill("SMB")
        page.get_by_role("button", name="Save").click()

        expect(page.get_by_role("alert")).to_contain_text(
            "Not saved: phone changed meanwhile"
        )
        expect(page.locator("#edit-phone")).to_have_value("030 1234567")
        expect(page.locator("#edit-segment")).to_have_value("SMB")
        expect(page.locator("#edit-phone-changed")).to_be_visible()
        left_at = page.url
        page.get_by_role("button", name="Save").click()
        expect(page.locator("ul.messages")).to_contain_text("Lead saved.")
        page.goto(left_at)  # the address the refusal left, loaded again

        expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/#edit")
        expect(page.locator("h1")).to_have_text(lead.label)

    lead.refresh_from_db()
    assert (lead.segment, lead.phone_e164) == ("SMB", "+49301234567")
