"""The blueprint, on synthetic histories whose every figure is known.

The calendar is open round the clock, so a business day is 24 hours and each
expected duration can be read off the events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from dealgate.core import blueprint as bp
from dealgate.core.calendar import Calendar
from dealgate.core.pipeline_file import (
    HandoffSpec,
    PipelineSpec,
    StageSpec,
    parse_pipeline,
)

ALWAYS = Calendar.round_the_clock("UTC")
OFFICE = Calendar.office_hours("UTC")
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)


class History:
    """Builds closed deals and their events: one entry (from a new lead,
    unless `source` names another door), a move per further stage, then the
    close."""

    def __init__(self) -> None:
        self.deals: list[bp.ClosedDeal] = []
        self.events: list[bp.Event] = []
        self.responses: dict[int, list[dt.datetime]] = {}

    def add(
        self,
        path: list[str],
        days: list[float],
        outcome: str,
        *,
        start: dt.datetime = T0,
        times: int = 1,
        source: str = bp.LEAD_SOURCE,
    ) -> None:
        for _ in range(times):
            deal_id = len(self.deals) + 1
            at = start + dt.timedelta(days=deal_id)
            self.events.append(
                bp.Event(deal_id, None, path[0], "", "open", at, source=source)
            )
            for index, stage in enumerate(path):
                left = at + dt.timedelta(days=days[index])
                last = index == len(path) - 1
                self.events.append(
                    bp.Event(
                        deal_id,
                        stage,
                        stage if last else path[index + 1],
                        "open",
                        outcome if last else "open",
                        left,
                        from_entered_at=at,
                    )
                )
                at = left
            self.deals.append(bp.ClosedDeal(deal_id, outcome, path[-1], at))

    def paths(self, calendar: Calendar = ALWAYS) -> list[bp.DealPath]:
        return bp.trace(self.deals, self.events, calendar, responses=self.responses)


ORDER = ["a", "b", "c", "d", "e"]


@pytest.fixture
def history() -> History:
    """15 closed deals: 6 go a-b-c-won, 3 go a-c-won (around b), 4 go
    a-b-lost and 2 are lost in a."""
    history = History()
    for days in ([1, 2, 1], [2, 2, 1], [3, 2, 1], [4, 2, 1], [5, 2, 1], [6, 2, 1]):
        history.add(["a", "b", "c"], days, "won")
    for days in ([7, 3], [8, 3], [9, 3]):
        history.add(["a", "c"], days, "won")
    history.add(["a", "b"], [1, 4], "lost", times=4)
    history.add(["a"], [20], "lost")
    history.add(["a"], [30], "lost")
    return history


@pytest.fixture
def found(history) -> bp.Blueprint:
    return bp.find_blueprint(history.paths(), ORDER, ALWAYS)


def test_paths_follow_each_deals_events(history):
    paths = history.paths()

    assert [path.path for path in paths[:1] + paths[6:7] + paths[9:10]] == [
        ("a", "b", "c"),
        ("a", "c"),
        ("a", "b"),
    ]
    assert [stay.minutes for stay in paths[0].stays] == [1440, 2880, 1440]
    assert paths[0].stays[0].handoff == ("lead", "a")
    assert paths[0].stays[1].handoff == ("a", "b")


def test_variants_are_counted_with_their_shares(found):
    assert [(v.text, v.deals, v.share) for v in found.variants] == [
        ("a -> b -> c -> won", 6, 6 / 15),
        ("a -> b -> lost", 4, 4 / 15),
        ("a -> c -> won", 3, 3 / 15),
        ("a -> lost", 2, 2 / 15),
    ]
    assert (found.deals, found.won, found.lost) == (15, 9, 6)


def test_transitions_count_every_passage(found):
    assert [(t.start, t.end, t.deals) for t in found.transitions] == [
        ("start", "a", 15),
        ("a", "b", 10),
        ("a", "c", 3),
        ("a", "lost", 2),
        ("b", "c", 6),
        ("b", "lost", 4),
        ("c", "won", 9),
    ]


def test_times_per_stage_are_split_by_outcome(found):
    a = found.flow("a")
    # Won: 1 to 9 days. Lost: 1, 1, 1, 1, 20, 30.
    assert a.won_days == bp.Spread(9, 5.0, pytest.approx(7.4))
    assert a.lost_days == bp.Spread(6, 1.0, 20.0)
    assert found.flow("b").won_days == bp.Spread(6, 2.0, 2.0)
    assert found.flow("b").lost_days == bp.Spread(4, 4.0, 4.0)
    assert found.flow("c").won_days == bp.Spread(9, 1.0, 3.0)


def test_lost_deals_stop_where_they_were_lost(found):
    assert [(s.stage, s.deals, s.share) for s in found.stops] == [
        ("b", 4, 4 / 6),
        ("a", 2, 2 / 6),
    ]


def test_a_skip_is_counted_only_for_deals_that_could_have_passed(found):
    b = found.flow("b")
    assert (b.visited, b.won, b.could_skip, b.skipped) == (10, 6, 13, 3)
    # Nothing passes d or e, and nothing is seen after them.
    assert found.flow("d") is None


def test_a_subset_of_closed_deals_gives_its_own_blueprint(history):
    latest = [path for path in history.paths() if path.deal_id >= 10]

    found = bp.find_blueprint(latest, ORDER, ALWAYS, scope="the last 6 closed deals")

    assert found.scope == "the last 6 closed deals"
    assert [(v.text, v.deals) for v in found.variants] == [
        ("a -> b -> lost", 4),
        ("a -> lost", 2),
    ]


def test_durations_missing_from_events_are_counted_in_business_time():
    friday_4pm = dt.datetime(2026, 1, 9, 16, 0, tzinfo=dt.UTC)
    monday_10am = dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC)
    events = [
        bp.Event(1, "a", "a", "open", "won", monday_10am, from_entered_at=friday_4pm)
    ]

    [path] = bp.trace([bp.ClosedDeal(1, "won", "a")], events, OFFICE)

    assert path.stays[0].minutes == 120


def test_first_responses_are_measured_from_the_start_of_a_stay(history):
    for deal_id in (1, 2, 3):
        start = T0 + dt.timedelta(days=deal_id)
        history.responses[deal_id] = [
            start - dt.timedelta(hours=5),  # before the stay: not an answer
            start + dt.timedelta(hours=deal_id),
        ]

    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)

    lead = found.response("lead", "a")
    assert lead.minutes == bp.Spread(3, 120.0, pytest.approx(156.0))
    assert lead.unrecorded == 12


def test_a_deal_without_events_stays_in_the_stage_it_closed_from():
    deal = bp.ClosedDeal(7, "lost", "b", T0)

    [path] = bp.trace([deal], [], ALWAYS)

    assert path.path == ("b",)
    assert path.stays[0].minutes is None


def test_notes_say_what_a_dates_only_history_cannot_tell():
    """Shaped like the Maven CRM data: dates only, nothing before engaging."""
    history = History()
    midnight = dt.datetime(2017, 1, 2, tzinfo=dt.UTC)
    history.add(["engaging"], [30], "won", start=midnight, times=3, source="import")
    history.add(["engaging"], [10], "lost", start=midnight, source="import")

    found = bp.find_blueprint(
        history.paths(),
        ["prospecting", "engaging"],
        ALWAYS,
        names={"prospecting": "Interest shown", "engaging": "Buyer engaged"},
    )

    assert found.dates_only
    assert found.notes == (
        "No closed deal's history records stage 'Interest shown': the data cannot "
        "tell how deals passed through it or how long they stayed. The blueprint "
        "counts only the stays closed deals' histories record; the pipeline's "
        "picture also counts a deal that skipped the stage or was imported past "
        "it as having passed it.",
        "The history records dates without times (every event is at midnight): "
        "times are counted from day to day, so a step within one day counts as 0 "
        "and nothing shorter than a day can be told.",
        "No first responses are recorded (no done call, email or meeting after a "
        "handoff into a stage, and no answered lead): response windows cannot be "
        "told from this data.",
    )


def test_no_closed_deals_give_an_empty_blueprint_that_says_so():
    found = bp.find_blueprint([], ORDER, ALWAYS)

    assert (found.deals, found.variants, found.stops) == (0, (), ())
    assert found.notes == (
        "There are no closed deals yet, so there is nothing to learn from.",
    )


# --- the proposal ---------------------------------------------------------------


def _stage(key: str, limit: int | None = 5, probability: int = 10) -> StageSpec:
    return StageSpec(
        key=key,
        name=f"Stage {key.upper()} booked",
        buyer_action=f"The buyer booked {key}",
        owner="deal-owner",
        age_limit_days=limit,
        probability=probability,
    )


def _current(keys=ORDER, handoffs=()) -> PipelineSpec:
    return PipelineSpec(
        key="synthetic",
        name="Synthetic",
        stages=tuple(_stage(key) for key in keys),
        calendar={"timezone": "UTC", "always_open": True},
        handoffs=tuple(handoffs),
    )


def test_a_proposal_sets_limits_and_probabilities_from_won_deals(found):
    proposal = bp.propose(found, _current())

    stages = {stage.key: stage for stage in proposal.spec.stages}
    assert [s.key for s in proposal.spec.stages] == ORDER
    # a: won deals' 80th percentile is 7.4 days, and 9 of 15 were won.
    assert (stages["a"].age_limit_days, stages["a"].probability) == (8, 60)
    assert (stages["b"].age_limit_days, stages["b"].probability) == (2, 60)
    assert (stages["c"].age_limit_days, stages["c"].probability) == (3, 100)
    # Nothing recorded d and e: kept as they were.
    assert stages["d"] == _stage("d")
    assert proposal.stage_notes["d"] == (
        "No closed deal's history records this stage: kept as it is.",
    )


def test_leads_entering_a_later_stage_time_the_handoff_into_the_first():
    history = History()
    history.add(["b", "c"], [1, 1], "won", times=5)
    for deal_id in range(1, 6):
        start = T0 + dt.timedelta(days=deal_id)
        history.responses[deal_id] = [start + dt.timedelta(minutes=20)]
    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)

    proposal = bp.propose(found, _current())

    first = next(h for h in proposal.spec.handoffs if h.from_stage == "lead")
    assert (first.to_stage, first.response_window_minutes) == ("a", 30)
    assert proposal.handoff_notes[("lead", "a")][0].startswith(
        "Deals from new leads entered at 'b', not at 'a': their first responses "
        "time this handoff. 5 first responses seen"
    )
    assert any(
        note.startswith("Deals from new leads entered at 'b'") for note in found.notes
    )


@pytest.mark.parametrize("source", ["import", "web", "api", "cli"])
def test_imported_and_hand_made_deals_start_without_a_lead_handoff(source):
    history = History()
    history.add(["b", "c"], [1, 1], "won", times=5, source=source)
    for deal_id in range(1, 6):
        start = T0 + dt.timedelta(days=deal_id)
        history.responses[deal_id] = [start + dt.timedelta(minutes=20)]

    paths = history.paths()
    found = bp.find_blueprint(paths, ORDER, ALWAYS)

    assert [stay.handoff for stay in paths[0].stays] == [None, ("b", "c")]
    assert [(r.start, r.end) for r in found.responses] == [("b", "c")]
    assert not any("new lead" in note for note in found.notes)


def test_a_proposal_does_not_time_the_lead_handoff_from_imported_deals():
    history = History()
    history.add(["b", "c"], [1, 1], "won", times=5, source="import")
    for deal_id in range(1, 6):
        start = T0 + dt.timedelta(days=deal_id)
        history.responses[deal_id] = [start + dt.timedelta(minutes=20)]
    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)
    kept = HandoffSpec("lead", "a", 120, "deal-owner")

    proposal = bp.propose(found, _current(handoffs=[kept]))
    text = bp.proposal_text(proposal)

    first = next(h for h in proposal.spec.handoffs if h.from_stage == "lead")
    assert (first.to_stage, first.response_window_minutes) == ("a", 120)
    assert proposal.handoff_notes[("lead", "a")] == (
        "Too few first responses seen (0) to measure: the current window is kept.",
    )
    assert "from new leads" not in text


def test_only_converted_deals_among_imported_ones_are_lead_handoffs():
    history = History()
    history.add(["b", "c"], [1, 1], "won", times=3, source="import")
    history.add(["b", "c"], [1, 1], "won", times=2)

    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)

    assert found.response("lead", "b").unrecorded == 2
    assert found.response("b", "c").unrecorded == 5


def test_a_proposal_gives_each_step_a_window_and_keeps_current_ones(history):
    for deal_id in range(1, 16):
        start = T0 + dt.timedelta(days=deal_id)
        history.responses[deal_id] = [start + dt.timedelta(minutes=10 * deal_id)]
    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)
    kept = HandoffSpec("b", "c", 90, "deal-owner")

    proposal = bp.propose(found, _current(handoffs=[kept]))

    windows = {
        (h.from_stage, h.to_stage): (h.response_window_minutes, h.responsible)
        for h in proposal.spec.handoffs
    }
    # Lead responses: 10 to 150 minutes; the 80th percentile is 122 -> 4h.
    assert windows == {
        ("lead", "a"): (240, "stage-owner"),
        ("a", "b"): (1440, "stage-owner"),
        ("b", "c"): (90, "deal-owner"),
        ("c", "d"): (1440, "stage-owner"),
        ("d", "e"): (1440, "stage-owner"),
    }
    assert proposal.handoff_notes[("lead", "a")] == (
        '15 first responses seen, 80% within 2 h: response_window = "4h".',
    )


def test_a_stage_most_deals_skip_is_left_out_of_the_proposal():
    history = History()
    history.add(["a", "c"], [1, 1], "won", times=4)
    history.add(["a", "b", "c"], [1, 1, 1], "won")
    found = bp.find_blueprint(history.paths(), ORDER, ALWAYS)

    proposal = bp.propose(found, _current())

    assert "b" not in proposal.spec.stage_keys()
    assert (
        "'b' was left out: 4 of the 5 deals that could have passed it went "
        "around it." in proposal.header
    )


def test_more_than_seven_used_stages_are_merged_down_to_seven():
    keys = [f"s{n}" for n in range(9)]
    history = History()
    history.add(keys, [1] * 9, "won", times=3)
    history.add([k for k in keys if k not in ("s3", "s6")], [1] * 7, "won", times=1)
    history.add([k for k in keys if k not in ("s3", "s6")], [1] * 7, "lost", times=1)
    found = bp.find_blueprint(history.paths(), keys, ALWAYS)

    proposal = bp.propose(found, _current(keys))

    assert proposal.spec.stage_keys() == [k for k in keys if k not in ("s3", "s6")]


def test_fewer_than_five_stages_are_not_padded(found):
    proposal = bp.propose(found, _current(["a", "b", "c"]))

    assert proposal.spec.stage_keys() == ["a", "b", "c"]
    assert any(
        line.startswith("Only 3 stages can be proposed") for line in proposal.header
    )


def test_a_retired_stage_most_deals_used_comes_back(found):
    proposal = bp.propose(found, _current(["a", "c"]), retired={"b": _stage("b")})

    assert proposal.spec.stage_keys() == ["a", "b", "c"]


def test_the_proposed_file_parses_back_to_the_proposal(found):
    proposal = bp.propose(found, _current())

    text = bp.proposal_text(proposal)

    assert parse_pipeline(text) == proposal.spec
    assert "# a -> b -> c -> won: 6 (40.0%)" in text.replace("#   ", "# ")
    lines = text.splitlines()
    stage_a = lines.index('key = "a"')
    assert lines[stage_a - 5 : stage_a - 1] == [
        "# 15 of 15 closed deals (100.0%) passed this stage; 9 of them were won:",
        "# probability = 60.",
        "# Won deals stayed a median of 5 business days, 80% within 7.4: "
        "age_limit_days = 8.",
        "# Lost deals stayed a median of 1 business day, 80% within 20.",
    ]


@pytest.mark.parametrize(
    ("minutes", "day", "expected"),
    [
        (1, 480, 15),
        (15, 480, 15),
        (61, 480, 120),
        (241, 480, 480),
        (481, 480, 960),
        (2000, 480, 2400),
        (300, 1440, 1440),
        (10**9, 480, 365 * 480),
    ],
)
def test_windows_round_up_onto_the_ladder(minutes, day, expected):
    assert bp.round_window(minutes, day) == expected


def test_a_proposal_keeps_every_other_part_of_the_pipeline(found):
    current = replace(_current(), description="Kept", currency="EUR")

    proposal = bp.propose(found, current)

    assert (proposal.spec.description, proposal.spec.currency) == ("Kept", "EUR")
    assert proposal.spec.calendar == current.calendar
