"""The pages keep to their Content-Security-Policy in a real chromium: the
board (its "more" link is htmx), a deal page, insights with charts, the
pipeline builder (builder.js) and the website's lead form, on the demo's
data, with no violation reported."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from dealgate.deals.models import Deal
from dealgate.demo import loader
from tests.web.test_board_browser import (  # noqa: F401 - fixtures
    CHROMIUM_ARGS,
    chromium_path,
    maven_data,
)

pytestmark = pytest.mark.browser

# Reported by the page itself, whatever the console says.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_the_products_pages_run_under_the_policy_with_no_violation(
    chromium_path,  # noqa: F811
    live_server,
    maven_data,  # noqa: F811
):
    deal = Deal.objects.filter(status="open").order_by("pk").first()
    stage = deal.stage.key
    key = deal.pipeline.key
    reported: list[str] = []  # console messages
    violations: list[str] = []  # the policy's own reports
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.add_init_script(WATCH)
            page.on("console", lambda m: reported.append(f"{m.type}: {m.text}"))

            def visit(path: str) -> None:
                page.goto(f"{live_server.url}{path}")
                violations.extend(page.evaluate("window.__violations"))

            visit("/")
            page.get_by_label("Username").fill("owner")
            page.get_by_label("Password").fill(loader.PASSWORD)
            page.get_by_role("button", name="Log out").or_(
                page.get_by_role("button", name="Log in")
            ).first.click()
            column = page.locator(f"section[data-stage={stage}]")
            before = column.locator(".card").count()
            column.get_by_role("link", name="more").first.click()
            expect(column.locator(".card")).not_to_have_count(before)
            expect(column.locator("svg.width rect")).to_have_count(1)
            violations.extend(page.evaluate("window.__violations"))

            visit(f"/deals/{deal.pk}/")
            expect(page.locator("h1")).to_contain_text(deal.title)
            visit("/insights/")
            expect(page.locator("svg.chart").first).to_be_visible()
            visit(f"/pipelines/{key}/edit/stages/{stage}/")
            expect(page.locator("form[data-criterion]").first).to_be_attached()
            page.context.clear_cookies()
            visit(f"/leads/form/{key}/")
            expect(page.get_by_label("Your name")).to_be_visible()
            expect(page.get_by_label("Leave this empty")).not_to_be_in_viewport()
        finally:
            browser.close()

    assert violations == []
    assert [r for r in reported if "Content Security Policy" in r] == []
