"""The blueprint counts a handoff from a new lead only for deals a lead's
conversion made: deals imported straight into a later stage, or made by
hand, start in their stage with no handoff before it."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.builder.blueprints import blueprint_for, proposal_for
from dealgate.cli import main
from dealgate.core import blueprint as bp
from dealgate.deals.models import Activity, StageEvent
from dealgate.deals.services import create_deal, move_deal
from dealgate.imports.services import import_deals
from dealgate.leads.models import Lead
from dealgate.leads.services import convert_lead
from tests.importing import write_csv, write_mapping
from tests.web.helpers import text_of

MAPPING = """
source = "old-crm"
loss_reason = "price"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Won = { stage = "proposal", status = "won" }
Lost = { stage = "proposal", status = "lost" }
"""


def monday(hour: int, week: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 2, hour, tzinfo=dt.UTC) + dt.timedelta(weeks=week)


@pytest.fixture
def imported(pipeline, tmp_path):
    """Five deals an older CRM kept from 'Proposal requested' on: they
    entered it, and were won or lost from it, with no lead in the database."""
    rows = "".join(
        f"D{n},Deal {n},{'Won' if n % 2 else 'Lost'},2026-02-0{n},2026-03-1{n}\n"
        for n in range(1, 6)
    )
    path = write_csv(tmp_path, "Id,Deal,Stage,Entered,Closed\n" + rows)
    report = import_deals(path, write_mapping(tmp_path, MAPPING), pipeline=pipeline)
    assert report.deals_created == 5
    return pipeline


def converted_and_won(pipeline, by, n: int) -> None:
    """A lead answered within 30 minutes, converted into the first stage by
    `by`, answered by a call an hour later, and won."""
    timesource.set_now(monday(9, n))
    lead = Lead.objects.create(
        pipeline=pipeline,
        channel="web",
        name=f"Buyer {n}",
        company=f"Buyer {n} Ltd",
        owner=by,
        created_at=monday(9, n),
        assigned_at=monday(9, n),
        first_response_at=monday(9, n) + dt.timedelta(minutes=30),
    )
    timesource.set_now(monday(10, n))
    deal = convert_lead(lead.pk, by=by)
    Activity.objects.create(
        deal=deal, kind="call", subject="call", at=monday(11, n), done=True
    )
    timesource.set_now(monday(15, n))
    move_deal(deal.pk, "won", by=by, expected_version=None)


def test_imported_deals_are_not_handed_over_from_a_lead(imported):
    assert StageEvent.objects.filter(from_stage=None, source="import").count() == 5

    found = blueprint_for(imported)

    assert found.response(bp.LEAD_SOURCE, "proposal") is None
    assert [(r.start, r.end) for r in found.responses] == []
    assert not any("new lead" in note for note in found.notes)


def test_the_proposal_from_imported_deals_names_no_lead_entry(imported):
    text = bp.proposal_text(proposal_for(imported))

    assert "from new leads" not in text
    assert "entered at 'Proposal requested'" not in text


def test_the_blueprint_page_shows_no_lead_handoff_for_imported_deals(
    imported, rep_client
):
    page = rep_client.get(f"/pipelines/{imported.key}/blueprint/")

    assert page.status_code == 200
    text = text_of(page)
    assert "A new lead" not in text.split("proposed")[0]
    assert "from new leads" not in text


def test_the_blueprint_command_reports_no_lead_handoff_for_imported_deals(
    imported, capsys
):
    assert main(["blueprint", "--pipeline", imported.key]) == 0

    out = capsys.readouterr().out
    assert "A new lead" not in out
    assert "from new leads" not in out


def test_a_deal_made_by_hand_is_not_handed_over_from_a_lead(pipeline, olivia):
    timesource.set_now(monday(9))
    deal = create_deal(pipeline, {"title": "Walk-in"}, by=olivia, stage="proposal")
    Activity.objects.create(
        deal=deal, kind="call", subject="call", at=monday(10), done=True
    )
    timesource.set_now(monday(15))
    move_deal(deal.pk, "won", by=olivia, expected_version=None)

    found = blueprint_for(pipeline)

    assert found.deals == 1
    assert found.responses == ()


def test_converted_leads_are_the_lead_handoffs_among_imported_deals(imported, olivia):
    for n in range(3):
        converted_and_won(imported, olivia, n)

    found = blueprint_for(imported)
    proposal = proposal_for(imported)

    assert [(r.start, r.end) for r in found.responses] == [("lead", "inquiry")]
    # Each converted deal's lead waited 30 business minutes for its answer.
    assert found.response("lead", "inquiry").minutes == bp.Spread(3, 30.0, 30.0)
    first = next(h for h in proposal.spec.handoffs if h.from_stage == "lead")
    assert (first.to_stage, first.response_window_minutes) == ("inquiry", 30)
