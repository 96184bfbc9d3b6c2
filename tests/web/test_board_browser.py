"""A real chromium, driven by Playwright, signs in and reads the board.

Debian's chromium is used, never Playwright's own download. Without it the test
skips and says why, unless DEALGATE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import expect, sync_playwright

from dealgate.deals.models import Deal, Organization
from dealgate.demo import loader
from dealgate.pipelines.models import Pipeline, Stage
from tests.conftest import NOW, PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed"
        if os.environ.get("DEALGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and DEALGATE_REQUIRE_BROWSER=1 forbids skipping")
        pytest.skip(reason)
    return path


@pytest.fixture
def board_data(transactional_db, django_user_model, now):
    """A two-stage pipeline with a handful of open deals, one of them overdue.

    Shaped like the Maven CRM data, small enough to state every figure.
    """
    user = django_user_model.objects.create_user(
        username="darcel",
        password=PASSWORD,
        first_name="Darcel",
        last_name="Schlecht",
    )
    pipeline = Pipeline.objects.create(key="maven-crm", name="Maven CRM")
    stages = {
        key: Stage.objects.create(
            pipeline=pipeline, key=key, name=name, position=n, age_limit_days=30
        )
        for n, (key, name) in enumerate(
            [("prospecting", "Prospecting"), ("engaging", "Engaging")]
        )
    }
    deals = [
        ("prospecting", "GTX Plus Basic for Cancity", "Cancity", 1054, None),
        ("prospecting", "MG Special for Isdom", "Isdom", 50, None),
        ("engaging", "GTXPro for Codehow", "Codehow", 4514, 12),
        ("engaging", "GTX Basic for Hottechi", "Hottechi", 588, 45),
    ]
    for stage, title, org, value, days in deals:
        entered = NOW - dt.timedelta(days=days) if days is not None else None
        Deal.objects.create(
            pipeline=pipeline,
            stage=stages[stage],
            title=title,
            organization=Organization.objects.create(name=org),
            owner=user,
            value=Decimal(value),
            created_at=entered,
            stage_entered_at=entered,
        )
    return pipeline


@contextlib.contextmanager
def signed_in_page(
    live_server, chromium_path: str, username: str = "darcel", password: str = PASSWORD
) -> Iterator:
    """A chromium page that has logged in through the login form."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            yield page
        finally:
            browser.close()


def test_a_person_logs_in_and_sees_the_board(chromium_path, live_server, board_data):
    with signed_in_page(live_server, chromium_path) as page:
        prospecting = page.locator("section[data-stage=prospecting]")
        engaging = page.locator("section[data-stage=engaging]")
        expect(page.locator(".summary")).to_contain_text("4 open deals · $6,206")
        expect(prospecting).to_contain_text("2 · $1,104 · 50% of open deals")
        expect(prospecting).to_contain_text("GTX Plus Basic for Cancity")
        expect(prospecting).to_contain_text("entered: unknown")
        expect(engaging.locator(".card").first).to_contain_text(
            # No calendar: Mon-Fri 09:00-17:00 UTC, from Sun 26 Apr 12:00;
            # 32.375 days, rounded down as Today rounds them.
            "32 of 30 business days, 2.3 over the limit"
        )
        expect(engaging.locator(".card.at-risk")).to_have_count(1)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_rest_of_a_long_column_loads_in_place(
    chromium_path, live_server, board_data
):
    engaging = board_data.stages.get(key="engaging")
    for n in range(30):
        Deal.objects.create(
            pipeline=board_data,
            stage=engaging,
            title=f"Follow-on {n:02}",
            stage_entered_at=NOW - dt.timedelta(days=1),
        )
    with signed_in_page(live_server, chromium_path) as page:
        column = page.locator("section[data-stage=engaging]")
        expect(column.locator(".card")).to_have_count(30)
        # The cards show while the page is still parsed; htmx binds the link
        # once its script has run, and a click before that follows the link.
        page.wait_for_load_state("load")

        column.get_by_role("link", name="and 2 more").click()

        expect(column.locator(".card")).to_have_count(32)
        expect(column.get_by_text("more")).to_have_count(0)
        assert page.url.rstrip("/") == live_server.url


@pytest.fixture
def maven_data(transactional_db, settings):
    """The real Maven CRM opportunities, imported as `dealgate demo` does,
    with the clock at the demo's as-of date."""
    settings.AS_OF = loader.AS_OF
    return loader.load_demo()


def test_the_demo_owner_sees_the_imported_maven_board(
    chromium_path, live_server, maven_data
):
    with signed_in_page(live_server, chromium_path, "owner", loader.PASSWORD) as page:
        # Maven CRM records a value only when a deal closes, hence "no values".
        expect(page.locator(".summary")).to_contain_text(
            "2,089 open deals · no values · as of 31 Dec 2017"
        )
        expect(page.locator("section[data-stage=prospecting]")).to_contain_text(
            "500 · no values · 24% of open deals"
        )
        expect(page.locator("section[data-stage=engaging]")).to_contain_text(
            "1,589 · no values · 76% of open deals"
        )
        expect(page.locator(".card.at-risk").first).to_be_visible()


def test_the_move_form_sends_only_the_fields_the_chosen_move_reads(
    chromium_path, live_server, board_data
):
    deal = Deal.objects.get(title="MG Special for Isdom")
    with signed_in_page(live_server, chromium_path) as page:
        page.goto(f"{live_server.url}/deals/{deal.pk}/")
        note = page.locator("#loss-note")
        page.select_option("#move-to", "lost")
        expect(note).to_be_visible()
        note.fill("went quiet")

        page.select_option("#move-to", "engaging")
        expect(note).to_be_hidden()
        expect(note).to_be_disabled()
        page.get_by_role("button", name="Move").click()

        expect(page.locator("h1")).to_contain_text("MG Special for Isdom")
        expect(page.locator(".message.refused")).to_have_count(0)
    deal.refresh_from_db()
    assert (deal.stage.key, deal.loss_note) == ("engaging", "")
