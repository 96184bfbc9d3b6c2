"""The blueprint the database works out (`dealgate.builder.blueprints`) is
the one `dealgate.core.blueprint` traces in Python from the same rows, on
histories with every turn a path can take, and costs the same statements for
many deals as for few."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.builder.blueprints import blueprint_for
from dealgate.core import blueprint as bp
from dealgate.core import business_time
from dealgate.core.text import counted
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.leads.models import Lead
from dealgate.pipelines.calendars import calendar_for

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An instant in March 2026, Berlin time (the 2nd is a Monday)."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


class History:
    """Writes one deal's stage events as the product does, move by move."""

    def __init__(
        self, pipeline, first: str, when: dt.datetime, *, minutes=True, source="web"
    ):
        self.stages = {stage.key: stage for stage in pipeline.stages.all()}
        self.minutes = minutes
        self.calendar = calendar_for(pipeline)
        self.deal = Deal.objects.create(
            pipeline=pipeline,
            stage=self.stages[first],
            title=f"Deal from {first}",
            created_at=when,
            stage_entered_at=when,
            source=source,
        )
        self._event(None, first, "", "open", when, None, source=source)
        self.stage, self.status, self.entered = first, "open", when

    def _event(
        self, from_stage, to_stage, from_status, to_status, when, entered, source="web"
    ):
        minutes = None
        if self.minutes and entered is not None and from_status == "open":
            minutes = business_time.between(self.calendar, entered, when)
        StageEvent.objects.create(
            deal=self.deal,
            from_stage=self.stages[from_stage] if from_stage else None,
            to_stage=self.stages[to_stage],
            from_status=from_status,
            to_status=to_status,
            at=when,
            from_entered_at=entered,
            from_business_minutes=minutes,
            source=source,
        )

    def to(self, target: str, when: dt.datetime) -> History:
        """Move to a stage, close as won or lost, or reopen into a stage."""
        if target in ("won", "lost"):
            self._event(self.stage, self.stage, "open", target, when, self.entered)
            self.status = target
            Deal.objects.filter(pk=self.deal.pk).update(
                status=target, closed_at=when, stage=self.stages[self.stage]
            )
            return self
        entered = self.entered if self.status == "open" else when
        self._event(self.stage, target, self.status, "open", when, entered)
        self.stage, self.status, self.entered = target, "open", when
        Deal.objects.filter(pk=self.deal.pk).update(
            status="open", closed_at=None, stage=self.stages[target]
        )
        return self


def reference(pipeline, *, last: int | None = None) -> bp.Blueprint:
    """The blueprint traced in Python from rows read with the ORM."""
    stages = {s.pk: s for s in pipeline.stages.order_by("position", "id")}
    calendar = calendar_for(pipeline)
    deals = Deal.objects.filter(pipeline=pipeline, status__in=("won", "lost"))
    if last is not None:
        latest = deals.order_by("-closed_at", "-id").values("id")[:last]
        deals = Deal.objects.filter(id__in=latest)
    closed = [
        bp.ClosedDeal(d.pk, d.status, stages[d.stage_id].key, d.closed_at)
        for d in deals
    ]

    def key(stage_id):
        return stages[stage_id].key if stage_id is not None else None

    events = [
        bp.Event(
            e.deal_id,
            key(e.from_stage_id),
            key(e.to_stage_id),
            e.from_status,
            e.to_status,
            e.at,
            e.from_entered_at,
            e.from_business_minutes,
            e.source,
        )
        for e in StageEvent.objects.filter(deal__in=deals).order_by(
            "deal_id", "at", "id"
        )
    ]
    responses = defaultdict(list)
    for activity in Activity.objects.filter(
        deal__in=deals, done=True, kind__in=bp.RESPONSE_KINDS
    ).order_by("deal_id", "at"):
        responses[activity.deal_id].append(activity.at)
    leads = {
        lead.deal_id: (
            lead.response_business_minutes
            if lead.response_business_minutes is not None
            else business_time.between(
                calendar, lead.assigned_at, lead.first_response_at
            )
        )
        for lead in Lead.objects.filter(
            deal__in=deals,
            assigned_at__isnull=False,
            first_response_at__isnull=False,
        )
        if lead.first_response_at >= lead.assigned_at
    }
    paths = bp.trace(
        closed, events, calendar, responses=responses, lead_responses=leads
    )
    return bp.find_blueprint(
        paths,
        [s.key for s in stages.values()],
        calendar,
        scope="all closed deals"
        if last is None
        else f"the last {counted(last, 'closed deal')}",
        active=[s.key for s in stages.values() if s.retired_at is None],
        names={s.key: s.name for s in stages.values()},
    )


def rounded(value):
    """Floats to nine places, through dataclasses and containers: PostgreSQL's
    percentile_cont may differ from Python's in the last bits."""
    if isinstance(value, float):
        return round(value, 9)
    if dataclasses.is_dataclass(value):
        return {
            f.name: rounded(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [rounded(item) for item in value]
    return value


@pytest.fixture
def histories(pipeline):
    """Deals that skip, loop, go back, reopen, close from their first stage,
    close with no history at all or without business minutes, came from a
    lead, were imported or made by hand, are answered by calls and by their
    lead, or not at all."""
    won = History(pipeline, "inquiry", at(2, 9), source="lead")
    won.to("discovery", at(2, 13)).to("proposal", at(3, 11)).to("won", at(5, 16))
    skipped = History(pipeline, "inquiry", at(2, 10), source="import")
    skipped.to("proposal", at(3, 9)).to("lost", at(9, 12))
    back = History(pipeline, "inquiry", at(3, 9), source="lead")
    back.to("discovery", at(3, 15)).to("inquiry", at(4, 10)).to("discovery", at(5, 9))
    back.to("won", at(6, 17))
    reopened = History(pipeline, "inquiry", at(4, 9))
    reopened.to("lost", at(4, 15)).to("inquiry", at(9, 9)).to("discovery", at(9, 14))
    reopened.to("won", at(10, 11))
    History(pipeline, "inquiry", at(5, 9)).to("lost", at(5, 11))
    legacy = History(pipeline, "discovery", at(6, 9), minutes=False)
    legacy.to("proposal", at(9, 10)).to("lost", at(11, 10))
    bare = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="review"),
        status="lost",
        title="Imported without history",
        closed_at=at(12, 0),
    )
    History(pipeline, "inquiry", at(10, 9))  # still open: not in the blueprint
    for deal, kind, when in [
        (won.deal, "call", at(2, 9, 40)),
        (won.deal, "email", at(2, 15)),
        (skipped.deal, "meeting", at(3, 14)),
        (back.deal, "note", at(3, 10)),
        (reopened.deal, "call", at(9, 10)),
    ]:
        Activity.objects.create(deal=deal, kind=kind, subject="x", at=when, done=True)
    Lead.objects.create(
        pipeline=pipeline,
        channel="web",
        created_at=at(3, 8),
        assigned_at=at(3, 8),
        first_response_at=at(3, 9, 30),
        deal=back.deal,
    )
    return [won, skipped, back, reopened, legacy, bare]


def test_the_database_blueprint_is_the_python_one(histories, pipeline):
    found = blueprint_for(pipeline)

    assert rounded(found) == rounded(reference(pipeline))
    assert found.deals == 7
    assert found.flow("discovery").skipped == 1
    assert found.response("lead", "inquiry").minutes.n >= 1
    # Two deals came from leads; the imported and hand-made ones did not.
    lead = found.response("lead", "inquiry")
    assert lead.minutes.n + lead.unrecorded == 2


@pytest.mark.parametrize("last", [1, 3, 6])
def test_the_last_n_closed_are_the_python_ones_too(histories, pipeline, last):
    assert rounded(blueprint_for(pipeline, last=last)) == rounded(
        reference(pipeline, last=last)
    )


def test_a_pipeline_without_closed_deals_says_so(pipeline):
    History(pipeline, "inquiry", at(2, 9))

    found = blueprint_for(pipeline)

    assert rounded(found) == rounded(reference(pipeline))
    assert found.notes == (
        "There are no closed deals yet, so there is nothing to learn from.",
    )


def test_one_timed_event_in_a_history_of_dates_keeps_the_dates_caveat(pipeline):
    for day in (2, 3, 4, 5):
        History(pipeline, "inquiry", at(day, 0)).to("discovery", at(day + 1, 0)).to(
            "won", at(day + 3, 0)
        )
    History(pipeline, "inquiry", at(9, 0)).to("won", at(9, 23, 59))

    found = blueprint_for(pipeline)

    assert (found.dates_only, found.date_only_stays) == (True, 8)
    assert rounded(found) == rounded(reference(pipeline))
    assert any(
        note.startswith("8 of 9 stays record dates without times")
        for note in found.notes
    )


def test_dates_without_times_are_told_apart(pipeline):
    for day in (2, 3, 4):
        History(pipeline, "inquiry", at(day, 0)).to("discovery", at(day + 1, 0)).to(
            "won", at(day + 3, 0)
        )

    found = blueprint_for(pipeline)

    assert found.dates_only
    assert rounded(found) == rounded(reference(pipeline))


def test_many_deals_cost_the_statements_of_few(histories, pipeline):
    def statements() -> int:
        with CaptureQueriesContext(connection) as captured:
            blueprint_for(pipeline)
        return len(captured.captured_queries)

    few = statements()
    for n in range(30):
        History(pipeline, "inquiry", at(2, 9)).to("discovery", at(3, 9)).to(
            "won" if n % 2 else "lost", at(4, 9)
        )

    assert statements() == few
