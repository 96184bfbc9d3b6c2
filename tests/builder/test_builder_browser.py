"""A real chromium builds a small pipeline from empty, applies it and finds it
on the board. Launched as tests/web/test_board_browser.py launches it:
Debian's chromium, skipped without it unless DEALGATE_REQUIRE_BROWSER=1."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dealgate.pipelines.models import Pipeline
from tests.web.test_board_browser import chromium_path, signed_in_page  # noqa: F401

pytestmark = pytest.mark.browser

STAGES = [
    ("Inquiry received", "The buyer wrote about a need", "2"),
    ("Discovery call booked", "The buyer accepted a call", "5"),
    ("Proposal requested", "The buyer asked for a proposal", "10"),
]


def test_an_admin_builds_a_pipeline_from_empty_and_applies_it(
    chromium_path,  # noqa: F811
    live_server,
    transactional_db,
    olivia,
):
    with signed_in_page(live_server, chromium_path, "olivia") as page:
        page.get_by_role("link", name="Pipelines").click()
        page.get_by_label("Name").fill("Consulting")
        page.get_by_label("Key").fill("consulting")
        page.get_by_label("Time zone").fill("Europe/Berlin")
        page.get_by_role("button", name="Start the pipeline").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Build: Consulting")

        for name, action, limit in STAGES:
            form = page.get_by_role("form", name="Add a stage")
            form.get_by_label("Stage name").fill(name)
            form.get_by_label("Buyer action").fill(action)
            form.get_by_label("Age limit (business days)").fill(limit)
            form.get_by_label("Probability (%)").fill("20")
            form.get_by_role("button", name="Add the stage").click()
            expect(page.locator(".messages")).to_contain_text(f"Stage {name} added")

        windows = ["15m", "2h", "1d"]
        starts = ["A new lead"] + [name for name, _, _ in STAGES[:-1]]
        for start, (end, _, _), window in zip(starts, STAGES, windows, strict=True):
            page.get_by_label(f"Window from {start} to {end}").fill(window)
        page.get_by_role("button", name="Save the windows").click()
        expect(page.locator(".messages")).to_contain_text("Handoffs saved")

        page.get_by_role("link", name="Discovery call booked").click()
        criterion = page.get_by_role("form", name="Add an exit criterion")
        criterion.get_by_label("Condition").select_option("held")
        criterion.get_by_label("Tag").fill("discovery")
        criterion.get_by_role("button", name="Add the criterion").click()
        expect(page.locator(".messages")).to_contain_text(
            "Criterion 'A meeting (discovery) was held' added."
        )

        page.get_by_role("link", name="Back to Consulting").click()
        page.get_by_role("link", name="Review the plan and apply").click()
        expect(page.locator(".plan")).to_contain_text(
            'create the pipeline "Consulting"'
        )
        page.get_by_role("button", name="Apply the pipeline").click()
        expect(page.locator(".messages")).to_contain_text("Pipeline applied")

        page.get_by_role("link", name="Board", exact=True).last.click()
        for name, _, _ in STAGES:
            expect(page.get_by_role("heading", name=name)).to_be_visible()

    pipeline = Pipeline.objects.get(key="consulting")
    assert pipeline.stages.count() == 3
    assert pipeline.handoffs.count() == 3
