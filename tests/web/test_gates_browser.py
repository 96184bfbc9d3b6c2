"""In a real chromium: a card dragged past an unmet gate is refused in words,
stays put, and moves once the deal page has filled what the gate reads.

Debian's chromium, as in test_board_browser.py: skipped without it, unless
DEALGATE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dealgate.deals.models import Deal, StageEvent

from .helpers import make_deal
from .test_board_browser import chromium_path, signed_in_page  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def gated_deal(transactional_db, pipeline, alice, now):
    proposal = pipeline.stages.get(key="proposal")
    proposal.exit_criteria = [
        {
            "label": "expected close date set",
            "rule": "deal.expected_close_date != null",
        }
    ]
    proposal.save()
    return make_deal(pipeline, "proposal", title="Helpdesk for Acme", owner=alice)


def test_a_refused_drag_explains_and_a_filled_deal_then_moves(
    chromium_path,  # noqa: F811
    live_server,
    gated_deal,
):
    with signed_in_page(live_server, chromium_path, "alice") as page:
        card = page.locator(f".card[data-deal='{gated_deal.pk}']")
        review = page.locator("section[data-stage=review]")
        proposal = page.locator("section[data-stage=proposal]")
        expect(proposal.locator(".card")).to_have_count(1)

        card.drag_to(review.locator("header"))

        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(
            "Refused: 1 exit criterion of 'Proposal requested' is unmet: "
            "expected close date set"
        )
        expect(proposal.locator(".card")).to_have_count(1)
        expect(review.locator(".card")).to_have_count(0)
        # (The database is read after the browser closes: Playwright's event
        # loop forbids Django's synchronous queries inside this block.)

        card.get_by_role("link", name="Helpdesk for Acme").click()
        expect(page.locator(".exit-checklist")).to_contain_text(
            "✗ Expected close date set"
        )
        page.get_by_label("Expected close date").fill("2026-07-31")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".exit-checklist")).to_contain_text(
            "✓ Expected close date set"
        )

        page.get_by_role("link", name="Back to New business").click()
        card = page.locator(f".card[data-deal='{gated_deal.pk}']")
        expect(card).to_have_attribute("data-version", "2")
        card.drag_to(review.locator("header"))

        expect(review.locator(".card")).to_have_count(1)
        expect(proposal.locator(".card")).to_have_count(0)
        expect(page.get_by_role("alert")).to_have_count(0)
    deal = Deal.objects.get(pk=gated_deal.pk)
    assert (deal.stage.key, deal.version) == ("review", 3)
    event = StageEvent.objects.get(deal=deal)
    assert (event.by.username, event.source) == ("alice", "board")
