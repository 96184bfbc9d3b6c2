"""A stage a redesign adds in the middle of a pipeline.

Deals already past its place when it was added never could pass through it:
counting them as passed (a skip counts as passed) would make the new stage
read as if nobody is lost there. The funnel, the report's note and the
builder's picture judge it by the deals that came to its place since.
"""

from __future__ import annotations

import dataclasses

import pytest

from dealgate import timesource
from dealgate.builder.blueprints import blueprint_for
from dealgate.builder.figures import figures_for
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.insights import queries, reports
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.conftest import NOW

from .conftest import day, filters_for, move, open_deal

pytestmark = pytest.mark.django_db

FILE = """\
key = "sales"
name = "Sales"

[calendar]
timezone = "Europe/Berlin"
[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[[loss_reasons]]
key = "price"
label = "Price"

[[stages]]
key = "inquiry"
name = "Inquiry received"
owner = "deal-owner"
buyer_action = "The buyer asked about a need"
age_limit_days = 10
probability = 10

[[stages]]
key = "proposal"
name = "Proposal requested"
owner = "deal-owner"
buyer_action = "The buyer asked for a proposal"
age_limit_days = 10
probability = 40

[[stages]]
key = "contract"
name = "Contract signed"
owner = "deal-owner"
buyer_action = "The buyer signed the contract"
age_limit_days = 10
probability = 80
"""
REDESIGN = day(20)


def _redesigned():
    """The file with stage `meeting` added between inquiry and proposal."""
    spec = parse_pipeline(FILE)
    first, *rest = spec.stages
    meeting = dataclasses.replace(first, key="meeting", name="Meeting booked")
    return dataclasses.replace(spec, stages=(first, meeting, *rest))


@pytest.fixture
def pipeline_redesigned() -> Pipeline:
    """Deals before and after `meeting` was added between inquiry and
    proposal on day 20.

    Before: 1 went to contract and was won, 2 was lost in proposal, 5 was
    lost in inquiry; 3 and 4 waited in inquiry. After: 3 went through
    meeting to a win, 4 was lost in meeting; 6 (new) was lost in meeting,
    7 (new) skipped it to proposal.
    """
    with timesource.frozen_at(day(-30)):
        apply_pipeline(parse_pipeline(FILE))
    pipeline = Pipeline.objects.get(key="sales")

    def deal(number, at, steps):
        found = open_deal(pipeline, "inquiry", at, title=f"Deal {number}")
        for to, when in steps:
            found = move(found, to, when)
        return found

    deal(1, day(0), [("proposal", day(1)), ("contract", day(2)), ("won", day(3))])
    deal(2, day(0), [("proposal", day(1)), ("lost", day(2))])
    three = deal(3, day(0), [])
    four = deal(4, day(0), [])
    deal(5, day(0), [("lost", day(1))])
    with timesource.frozen_at(REDESIGN):
        apply_pipeline(_redesigned())
    for to, when in [("meeting", day(21)), ("proposal", day(22)), ("won", day(23))]:
        three = move(three, to, when)
    for to, when in [("meeting", day(21)), ("lost", day(22))]:
        four = move(four, to, when)
    deal(6, day(25), [("meeting", day(26)), ("lost", day(27))])
    deal(7, day(25), [("proposal", day(26))])
    return pipeline


def _steps(found: queries.Funnel) -> dict[str, tuple[int, int, int, int]]:
    return {
        row.stage.key: (
            row.step.entered,
            row.step.passed,
            row.step.lost_here,
            row.step.open_here,
        )
        for row in found.rows
    }


def test_a_redesign_dates_the_stage_it_adds_and_not_the_first_ones(
    pipeline_redesigned,
):
    added = dict(pipeline_redesigned.stages.values_list("key", "added_at"))

    assert added == {
        "inquiry": None,
        "meeting": REDESIGN,
        "proposal": None,
        "contract": None,
    }


def test_an_added_stage_counts_only_the_deals_that_came_to_its_place_since(
    pipeline_redesigned,
):
    found = queries.funnel(filters_for(pipeline_redesigned), NOW)

    # Meeting: deals 3, 4, 6 and 7 came to its place after day 20; 1 and 2
    # were past it already. 3 and 7 passed it, 4 and 6 were lost there.
    assert _steps(found)["meeting"] == (4, 2, 2, 0)
    meeting = next(row for row in found.rows if row.stage.key == "meeting")
    assert meeting.step.conversion == 0.5
    assert (meeting.added_at, meeting.past_before) == (REDESIGN, 2)
    # The stages there from the start count every deal as before.
    assert _steps(found)["inquiry"] == (7, 6, 1, 0)
    assert _steps(found)["proposal"] == (4, 2, 1, 1)
    assert found.population == 7


def test_an_added_stage_as_of_a_day_before_it_existed_counts_no_deal_past_it(
    pipeline_redesigned,
):
    found = queries.funnel(filters_for(pipeline_redesigned), day(10))

    # Deals 1 and 2 were past its place; 3 and 4 were open in inquiry.
    assert _steps(found)["meeting"] == (0, 0, 0, 0)


def test_a_period_that_began_after_the_stage_was_added_leaves_no_deal_out(
    pipeline_redesigned,
):
    filters = filters_for(
        pipeline_redesigned, period="", **{"from": "2026-03-24", "to": "2026-04-30"}
    )

    found = queries.funnel(filters, NOW)

    # Deals 6 and 7 only, both created after the redesign.
    assert _steps(found)["meeting"] == (2, 1, 1, 0)
    assert all(row.added_at is None for row in found.rows)


def test_the_funnel_says_which_stage_was_added_and_whom_it_leaves_out(
    pipeline_redesigned,
):
    section = reports._funnel(filters_for(pipeline_redesigned), NOW)

    assert (
        "Meeting booked was added to the pipeline on 2026-03-22: it counts only "
        "the deals that came to its place since, leaving out 2 deals already "
        "past it then."
    ) in section.table.note


def test_the_pipelines_picture_agrees_with_the_funnel_on_an_added_stage(
    pipeline_redesigned,
):
    stages = {one.key: one for one in figures_for(pipeline_redesigned, NOW).stages}

    assert (stages["meeting"].reached, stages["meeting"].went_on) == (4, 2)
    assert stages["meeting"].conversion == 0.5


def test_the_design_review_counts_no_skip_of_a_stage_by_deals_past_it_before(
    pipeline_redesigned,
):
    data = figures_for(pipeline_redesigned, NOW).review

    # Deals 1 and 2 went from inquiry to proposal before meeting existed:
    # no skip. Deals 3, 4 and 6 came through it since.
    meeting = data.stages["meeting"]
    assert (meeting.could_skip, meeting.skipped) == (3, 0)


def test_the_blueprint_keeps_an_added_stage_that_deals_past_it_never_skipped(
    pipeline_redesigned,
):
    found = blueprint_for(pipeline_redesigned)

    meeting = found.flow("meeting")
    assert (meeting.could_skip, meeting.skipped) == (3, 0)
    # The design review counts skips as the blueprint does.
    review = figures_for(pipeline_redesigned, NOW).review.stages["meeting"]
    assert (review.could_skip, review.skipped) == (3, 0)
