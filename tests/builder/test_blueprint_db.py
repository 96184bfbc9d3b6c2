"""The blueprint read from the database: synthetic histories with every figure
known, and the real demo data, whose figures are recomputed from its CSV."""

from __future__ import annotations

import csv
import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from dealgate.builder.blueprints import blueprint_for, proposal_for
from dealgate.core import blueprint as bp
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.pipeline_file import load_pipeline_file, parse_pipeline
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.demo import loader
from dealgate.leads.models import Lead
from tests.web.helpers import text_of

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An instant in March 2026, Berlin time (the 2nd is a Monday)."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def closed_deal(pipeline, steps, outcome, title="Deal", source="lead") -> Deal:
    """A deal that entered steps[0] (from a new lead, unless `source` names
    another door), moved through each stage at the given instants and
    closed: steps is [(stage, entered, left)]."""
    stages = {stage.key: stage for stage in pipeline.stages.all()}
    last_stage, _, closed = steps[-1]
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stages[last_stage],
        status=outcome,
        title=title,
        closed_at=closed,
        loss_reason="price" if outcome == "lost" else "",
    )
    first, entered, _ = steps[0]
    StageEvent.objects.create(
        deal=deal, to_stage=stages[first], to_status="open", at=entered, source=source
    )
    for index, (key, entered, left) in enumerate(steps):
        last = index == len(steps) - 1
        StageEvent.objects.create(
            deal=deal,
            from_stage=stages[key],
            to_stage=stages[key if last else steps[index + 1][0]],
            from_status="open",
            to_status=outcome if last else "open",
            at=left,
            from_entered_at=entered,
        )
    return deal


@pytest.fixture
def history(pipeline):
    """Three won deals through inquiry and discovery, two lost in inquiry."""
    won = [
        [("inquiry", at(2, 9), at(2, 13)), ("discovery", at(2, 13), at(4, 13))],
        [("inquiry", at(3, 9), at(3, 17)), ("discovery", at(3, 17), at(5, 17))],
        [("inquiry", at(4, 9), at(5, 9)), ("discovery", at(5, 9), at(6, 17))],
    ]
    deals = [closed_deal(pipeline, steps, "won") for steps in won]
    deals.append(closed_deal(pipeline, [("inquiry", at(2, 9), at(6, 17))], "lost"))
    deals.append(closed_deal(pipeline, [("inquiry", at(2, 9), at(9, 13))], "lost"))
    return deals


def test_paths_times_and_stops_come_from_the_stage_events(history, pipeline):
    found = blueprint_for(pipeline)

    assert [(v.text, v.deals) for v in found.variants] == [
        ("inquiry -> discovery -> won", 3),
        ("inquiry -> lost", 2),
    ]
    inquiry, discovery = found.flow("inquiry"), found.flow("discovery")
    # Business days in Mon-Fri 09:00-17:00, Berlin: 0.5, 1, 1 when won; 5, 5.5 lost.
    assert inquiry.won_days == bp.Spread(3, 1.0, 1.0)
    assert inquiry.lost_days == bp.Spread(2, 5.25, pytest.approx(5.4))
    assert discovery.won_days == bp.Spread(3, 2.0, 2.0)
    assert [(s.stage, s.deals) for s in found.stops] == [("inquiry", 2)]
    assert found.flow("proposal") is None


def test_first_responses_come_from_activities_and_answered_leads(history, pipeline):
    a, b, c, d, _e = history
    for deal, kind, when, done in [
        (a, "call", at(2, 9, 30), True),
        (b, "email", at(3, 10), True),
        (c, "meeting", at(4, 11), True),
        (d, "call", at(2, 9, 10), False),
        (d, "note", at(2, 9, 20), True),
    ]:
        Activity.objects.create(deal=deal, kind=kind, subject="x", at=when, done=done)
    Lead.objects.create(
        pipeline=pipeline,
        channel="web",
        created_at=at(2, 9),
        assigned_at=at(2, 9),
        first_response_at=at(2, 9, 45),
        deal=d,
    )

    response = blueprint_for(pipeline).response("lead", "inquiry")

    # 30, 45 (the lead), 60 and 120 business minutes; the fifth deal, none.
    assert response.minutes == bp.Spread(4, 52.5, pytest.approx(84.0))
    assert response.unrecorded == 1


def test_the_last_n_closed_deals_are_the_latest_closed(history, pipeline):
    # Closed last: the lost deals (9 March; 6 March 17:00, as the third won
    # deal, which has the lower id), then that won deal.
    found = blueprint_for(pipeline, last=3)

    assert found.scope == "the last 3 closed deals"
    assert blueprint_for(pipeline, last=1).scope == "the last 1 closed deal"
    assert [(v.text, v.deals) for v in found.variants] == [
        ("inquiry -> lost", 2),
        ("inquiry -> discovery -> won", 1),
    ]


def test_the_blueprint_page_shows_the_figures_and_the_proposal(
    history, pipeline, rep_client
):
    page = rep_client.get(f"/pipelines/{pipeline.key}/blueprint/")

    text = text_of(page)
    assert "inquiry → discovery → won" not in text  # names, not keys
    assert "Inquiry received → Discovery call booked → Won 3 60.0%" in text
    # Skipped: none could skip the first stage; the won deals could skip discovery.
    assert "Inquiry received 5 3 – 1 " in text
    assert "Discovery call booked 3 3 0 of 3 2 " in text
    assert "Make it the draft" not in text  # reps read only
    assert 'key = "new-business"' in text


def test_the_blueprint_page_dates_the_closes_in_the_pipelines_zone(
    pipeline, rep_client
):
    # 00:30 on the 10th in Berlin is still the 9th in UTC.
    closed_deal(pipeline, [("inquiry", at(2, 9), at(10, 0, 30))], "lost")

    text = text_of(rep_client.get(f"/pipelines/{pipeline.key}/blueprint/"))

    assert "closed 10 Mar 2026 to 10 Mar 2026" in text


def test_the_proposal_file_dates_the_closes_in_the_pipelines_zone(pipeline):
    # Closed 00:30 on the 10th and 23:30 on the 10th, Berlin: the 9th and the
    # 10th in UTC, both the 10th where the team works.
    closed_deal(pipeline, [("inquiry", at(2, 9), at(10, 0, 30))], "lost")
    closed_deal(pipeline, [("inquiry", at(2, 9), at(10, 23, 30))], "lost")

    text = bp.proposal_text(proposal_for(pipeline))
    comments = " ".join(
        line.removeprefix("# ") for line in text.splitlines() if line.startswith("#")
    )

    assert "closed 2026-03-10 to 2026-03-10" in comments


def test_the_python_blueprint_dates_the_closes_in_the_calendars_zone():
    calendar = Calendar(timezone="Europe/Berlin", always_open=True)
    path = bp.DealPath(
        deal_id=1,
        stays=(),
        outcome=bp.LOST,
        closed_at=dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC),
    )

    figures = bp.stay_figures([path], calendar)

    assert figures.first_closed.date() == dt.date(2026, 3, 10)
    assert figures.last_closed.date() == dt.date(2026, 3, 10)


# --- the demo data -----------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _days_from_csv(calendar: Calendar) -> dict[str, list]:
    """Business days engaging -> close per closed CSV row, by outcome, in
    file order, as (close date, row number, days)."""
    zone = ZoneInfo(calendar.timezone)

    def midnight(text: str) -> dt.datetime:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), zone)

    found: dict[str, list] = {"Won": [], "Lost": []}
    with open(loader.DEALS_FILE, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if row["deal_stage"] in found:
                start, end = midnight(row["engage_date"]), midnight(row["close_date"])
                days = business_time.business_days_between(calendar, start, end)
                found[row["deal_stage"]].append((row["close_date"], number, days))
    return found


@pytest.fixture
def demo(db, settings):
    settings.AS_OF = loader.AS_OF
    loader.load_demo()
    spec = load_pipeline_file(loader.PIPELINE_FILE)
    return spec, Calendar.from_dict(spec.calendar)


def test_the_demo_blueprint_matches_figures_recomputed_from_the_csv(demo):
    spec, calendar = demo
    rows = _days_from_csv(calendar)
    won = [days for _, _, days in rows["Won"]]
    lost = [days for _, _, days in rows["Lost"]]
    pipeline = loader_pipeline()

    found = blueprint_for(pipeline)

    assert (found.deals, found.won, found.lost) == (6711, 4238, 2473)
    assert [(v.text, v.deals) for v in found.variants] == [
        ("engaging -> won", len(won)),
        ("engaging -> lost", len(lost)),
    ]
    assert [(t.start, t.end, t.deals) for t in found.transitions] == [
        ("start", "engaging", 6711),
        ("engaging", "won", 4238),
        ("engaging", "lost", 2473),
    ]
    engaging = found.flow("engaging")
    assert engaging.won_days.median == pytest.approx(_percentile(won, 0.5))
    assert engaging.won_days.p80 == pytest.approx(_percentile(won, 0.8))
    assert engaging.lost_days.median == pytest.approx(_percentile(lost, 0.5))
    assert engaging.lost_days.p80 == pytest.approx(_percentile(lost, 0.8))
    assert [(s.stage, s.deals) for s in found.stops] == [("engaging", 2473)]
    assert found.dates_only

    latest = sorted(rows["Won"] + rows["Lost"], reverse=True)[:500]
    recent = blueprint_for(pipeline, last=500)
    assert recent.won == sum(1 for row in latest if row in rows["Won"])


def test_the_demo_proposal_says_what_the_dates_cannot_tell(demo):
    spec, calendar = demo
    won = [days for _, _, days in _days_from_csv(calendar)["Won"]]

    proposal = proposal_for(loader_pipeline())

    stages = {stage.key: stage for stage in proposal.spec.stages}
    assert stages["engaging"].age_limit_days == math.ceil(_percentile(won, 0.8))
    assert stages["engaging"].probability == round(100 * 4238 / 6711)
    assert stages["prospecting"] == spec.stages[0]
    text = bp.proposal_text(proposal)
    assert parse_pipeline(text) == proposal.spec
    assert "# - No closed deal's history records stage 'Interest shown'" in text
    assert "# - The history records dates without times" in text
    assert "# - No first responses are recorded" in text
    assert "# Only 2 stages can be proposed" in text


def loader_pipeline():
    from dealgate.pipelines.models import Pipeline

    return Pipeline.objects.get(key="maven-crm")
