"""In a real chromium: going Back to the New deal page after creating a deal
does not hand the same typed form to a second click. The page is never
cached and its form not restored, so Back shows an empty form.

Debian's chromium, as in test_board_browser.py: skipped without it, unless
DEALGATE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dealgate.deals.models import Deal

from .test_board_browser import chromium_path, signed_in_page  # noqa: F401

pytestmark = pytest.mark.browser


def test_back_after_creating_a_deal_shows_an_empty_form(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    pipeline,
    alice,
    now,
):
    with signed_in_page(live_server, chromium_path, "alice") as page:
        page.goto(f"{live_server.url}/deals/new/?pipeline={pipeline.key}")
        form = page.locator("form.stacked")
        form.locator("[name=title]").fill("Backup for Acme")
        form.get_by_role("button", name="Create deal").click()
        expect(page.locator("h1")).to_contain_text("Backup for Acme")

        page.go_back()

        expect(page.locator("form.stacked [name=title]")).to_have_value("")
    assert Deal.objects.filter(title="Backup for Acme").count() == 1
