"""Leads left unanswered: the owner is told, and after a second window the
lead is routed again (reassign) or the manager is told."""

from __future__ import annotations

import pytest

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead

from .conftest import berlin

ROUND_ROBIN = [
    {"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"},
]


@pytest.fixture
def routed(windows, alice, bob, max_manager):
    assign.forget_cached()
    windows.settings = {"routing": ROUND_ROBIN}
    windows.save()
    return windows


def capture(pipeline) -> Lead:
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    return capture_lead(data, source="api", pipeline=pipeline).lead


def test_an_unanswered_lead_is_breached_and_its_owner_told(routed, clock):
    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 16))

    sweep()

    (notice,) = Notice.objects.filter(user=lead.owner)
    assert notice.title == "New lead not answered: Petra · Firm AG"
    assert "15 business minutes" in notice.body
    assert notice.lead_id == lead.pk
    assert notice.url == f"/leads/{lead.pk}/"


def test_a_lead_answered_in_time_is_never_breached(routed, clock):
    from dealgate.leads.services import record_response

    clock.to(berlin(10, 10))
    lead = capture(routed)
    record_response(lead.pk, kind="call", by=lead.owner)
    clock.to(berlin(10, 12))

    assert sweep().due == 0
    assert Notice.objects.count() == 0


def test_after_a_second_window_the_lead_is_routed_to_someone_else(
    routed, alice, bob, clock
):
    routed.settings = {
        **routed.settings,
        "breach": {
            "handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}
        },
    }
    routed.save()
    clock.to(berlin(10, 10))
    lead = capture(routed)
    first = lead.owner
    clock.to(berlin(10, 10, 31))  # two windows of 15 minutes

    result = sweep()

    lead.refresh_from_db()
    assert lead.owner != first
    assert result.reassigned == 1
    window = Clock.objects.get(lead=lead, state=Clock.State.RUNNING)
    assert window.responsible == lead.owner
    assert window.started_at == clock.now
    assert Notice.objects.filter(user=lead.owner, kind="reassigned").count() == 1


def test_today_shows_the_owner_an_unanswered_lead(routed, client, clock):
    from tests.conftest import PASSWORD
    from tests.web.helpers import text_of

    clock.to(berlin(10, 10))
    lead = capture(routed)
    clock.to(berlin(10, 10, 20))
    sweep()
    client.login(username=lead.owner.username, password=PASSWORD)

    page = text_of(client.get("/today/"))

    assert "Petra · Firm AG" in page
    assert "no answer, 5 business minutes over the window" in page
