"""Every page shows times in the zone the deal and lead pages use, their
pipeline's calendar's (`pipelines.calendars.shown_zone`), and names it: the
notices page, the leads inbox (its notices, its leads and its as-of time),
the de-duplication decisions. A page whose times are all of one zone says
"Times are in ZONE" once; a time of another zone names its own beside it."""

from __future__ import annotations

import pytest

from dealgate.clocks.notices import notify
from dealgate.leads.models import DedupDecision, LeadNotice
from dealgate.leads.services import capture_lead
from dealgate.pipelines.calendars import shown_zone
from dealgate.pipelines.models import Pipeline, Stage
from tests.conftest import NOW
from tests.web.helpers import make_deal, text_of

from .conftest import inquiry

# NOW, 12:00 UTC on Wednesday 10 June 2026, is 14:00 in Berlin and 08:00 in
# New York.
BERLIN, NEW_YORK = "Wed 10 Jun, 14:00", "Wed 10 Jun, 08:00"


@pytest.fixture
def us(db) -> Pipeline:
    """A pipeline in New York's zone, with one stage."""
    pipe = Pipeline.objects.create(
        key="us",
        name="US",
        calendar={"timezone": "America/New_York", "always_open": True},
    )
    Stage.objects.create(pipeline=pipe, key="inquiry", name="Inquiry", position=0)
    return pipe


def test_the_shown_zone_is_the_pipelines_or_the_servers_when_they_differ(pipeline, us):
    assert shown_zone([pipeline]) == "Europe/Berlin"
    assert shown_zone([pipeline, pipeline]) == "Europe/Berlin"
    assert shown_zone([pipeline, us]) == "UTC"
    assert shown_zone([]) == "UTC"


def test_the_notices_page_shows_times_in_the_pipelines_zone_and_names_it(
    client, pipeline, alice, now
):
    deal = make_deal(pipeline, "inquiry", title="Acme", owner=alice)
    notify(alice, kind="info", title="About Acme", deal_id=deal.pk, at=NOW)
    client.force_login(alice)

    page = text_of(client.get("/notices/"))

    assert "Times are in Europe/Berlin" in page
    assert f"About Acme {BERLIN}" in page
    assert "UTC" not in page


def test_a_notice_of_another_zone_names_its_own(client, pipeline, us, alice, now):
    here = make_deal(pipeline, "inquiry", title="Acme", owner=alice)
    there = make_deal(us, "inquiry", title="Globex", owner=alice)
    notify(alice, kind="info", title="About Acme", deal_id=here.pk, at=NOW)
    notify(alice, kind="info", title="About Globex", deal_id=there.pk, at=NOW)
    client.force_login(alice)

    page = text_of(client.get("/notices/"))

    assert "Times are in UTC" in page
    assert f"About Acme {BERLIN} Europe/Berlin" in page
    assert f"About Globex {NEW_YORK} America/New_York" in page


def test_the_inbox_shows_its_notices_leads_and_as_of_in_the_pipelines_zone(
    client, routed, alice, now
):
    lead = capture_lead(inquiry(1), source="api").lead
    LeadNotice.objects.create(user=alice, lead=lead, text="Person 1 wrote", at=NOW)
    client.force_login(alice)

    page = text_of(client.get("/leads/"))

    assert "As of 10 Jun 2026, 14:00" in page
    assert "Times are in Europe/Berlin." in page
    assert "10 Jun, 14:00: Person 1 wrote" in page
    assert "Company 1 GmbH api" in page and "10 Jun, 14:00" in page
    assert "UTC" not in page


def test_the_inbox_names_the_zone_of_a_lead_of_another_one(
    client, routed, us, alice, now
):
    capture_lead(inquiry(1), source="api", pipeline=routed)
    capture_lead(inquiry(2), source="api", pipeline=us)
    client.force_login(alice)

    page = text_of(client.get("/leads/"))

    assert "Times are in UTC." in page
    assert "10 Jun, 14:00 Europe/Berlin" in page
    assert "10 Jun, 08:00 America/New_York" in page
    only_us = text_of(client.get("/leads/?pipeline=us"))
    assert "As of 10 Jun 2026, 08:00" in only_us
    assert "Times are in America/New_York." in only_us


def test_the_decisions_page_shows_times_in_the_pipelines_zone(
    client, pipeline, alice, now
):
    deal = make_deal(pipeline, "inquiry", title="Acme", owner=alice)
    DedupDecision.objects.create(
        pipeline=pipeline,
        action=DedupDecision.Action.ATTACHED,
        matched_on="email",
        reason=f"same email as deal {deal.pk}",
        deal=deal,
        at=NOW,
    )
    client.force_login(alice)

    page = text_of(client.get("/leads/decisions/"))

    assert "Times are in Europe/Berlin." in page
    assert "10 Jun 2026, 14:00 Attached" in page
