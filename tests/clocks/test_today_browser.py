"""A real chromium opens Today with more overdue deals than a section lists
and loads the rest in place (Debian's chromium; see tests/web)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.test_board_browser import chromium_path, signed_in_page

from .test_today_limit import overdue_deals

pytestmark = pytest.mark.browser

__all__ = ["chromium_path"]  # a fixture, found by pytest through this import


@pytest.fixture
def overdue(transactional_db, pipeline, alice):
    """52 deals over their limit since 2017: overdue at any time the server reads."""
    overdue_deals(pipeline, alice, 52)


def test_the_rest_of_todays_list_loads_in_place(chromium_path, live_server, overdue):
    with signed_in_page(live_server, chromium_path, "alice") as page:
        page.goto(f"{live_server.url}/today/")
        limits = page.locator("section[aria-labelledby=limits]")
        expect(limits.locator("tbody tr:not(.more)")).to_have_count(50)

        limits.get_by_role("link", name="and 2 more").click()

        expect(limits.locator("tbody tr:not(.more)")).to_have_count(52)
        expect(limits.get_by_text("Deal 051")).to_be_visible()
        expect(limits.get_by_text("more", exact=True)).to_have_count(0)
        assert page.url.endswith("/today/")
