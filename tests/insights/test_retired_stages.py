"""Insights after a redesign that retires stages, on the shipped example.

The example pipeline (inquiry, discovery, proposal, review, contract) gets
twelve deals; then stage `review` is renamed `buyer-review` and `contract` is
dropped, applied with `--move review=buyer-review --move contract=buyer-review`.
The funnel must judge every deal against the live stages, and time in stage
must keep the stays in the retired ones.
"""

from __future__ import annotations

import dataclasses

import pytest

from dealgate import timesource
from dealgate.accounts.models import Team
from dealgate.core.pipeline_file import PipelineSpec, load_pipeline_file
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.insights import queries, reports
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.conftest import NOW, REPO_ROOT

from .conftest import day, filters_for, open_deal

pytestmark = pytest.mark.django_db

EXAMPLE = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
FIRST = ["inquiry", "discovery", "proposal"]
# Deal n is HISTORIES[n - 1]: the stages it went through, one move every 2.4
# days from day 0 (deal 6 every 3.2 days).
HISTORIES = [
    [*FIRST, "review", "contract", "won"],  # 1
    [*FIRST, "review", "won"],  # 2
    [*FIRST, "review", "contract", "won"],  # 3
    [*FIRST, "review"],  # 4: open in review
    [*FIRST, "review", "contract"],  # 5: open in contract
    [*FIRST, "review", "proposal"],  # 6: back from review, open in proposal
    ["inquiry", "lost"],  # 7
    [*FIRST, "lost"],  # 8
    [*FIRST, "review", "contract", "lost"],  # 9: lost from contract
    ["inquiry", "discovery"],  # 10
    ["inquiry"],  # 11
    ["inquiry", "discovery", "lost"],  # 12
]
REDESIGN = day(60)


@pytest.fixture
def manager(django_user_model):
    """The team and manager the example's routing names (as `make demo` has
    them); the manager overrides the example's gates for these histories."""
    team = Team.objects.create(name="Central (Dustin Brinkmann)")
    return django_user_model.objects.create_user(
        username="dustin.brinkmann", password="x", role="manager", team=team
    )


@pytest.fixture
def example(manager) -> Pipeline:
    """The example pipeline with the twelve deals of HISTORIES."""
    with timesource.frozen_at(day(-30)):
        apply_pipeline(load_pipeline_file(EXAMPLE))
    pipeline = Pipeline.objects.get(key="it-services")
    for number, steps in enumerate(HISTORIES, start=1):
        every = 3.2 if number == 6 else 2.4
        deal = open_deal(pipeline, steps[0], day(0), title=f"Deal {number}")
        for n, to in enumerate(steps[1:], start=1):
            with timesource.frozen_at(day(n * every)):
                move_deal(
                    deal.pk,
                    to,
                    by=manager,
                    expected_version=None,
                    override_reason="history for a test",
                    loss_reason="price" if to == "lost" else "",
                )
    return pipeline


def redesigned(
    spec: PipelineSpec, *, rename: dict[str, str], drop: set[str]
) -> PipelineSpec:
    """`spec` with stages renamed (key only: names stay) and dropped, as a
    user would edit a copy of the file."""

    def key(old: str) -> str:
        return rename.get(old, old)

    stages = tuple(
        dataclasses.replace(stage, key=key(stage.key))
        for stage in spec.stages
        if stage.key not in drop
    )
    handoffs = tuple(
        dataclasses.replace(
            handoff, from_stage=key(handoff.from_stage), to_stage=key(handoff.to_stage)
        )
        for handoff in spec.handoffs
        if handoff.from_stage not in drop and handoff.to_stage not in drop
    )
    return dataclasses.replace(spec, stages=stages, handoffs=handoffs)


def apply_redesign(
    *, rename: dict[str, str], drop: set[str], moves: dict[str, str] | None = None
) -> None:
    """Apply the example file edited by `redesigned`, with these --move options."""
    spec = redesigned(load_pipeline_file(EXAMPLE), rename=rename, drop=drop)
    with timesource.frozen_at(REDESIGN):
        apply_pipeline(spec, moves=moves or {})


def rename_review_drop_contract() -> None:
    apply_redesign(
        rename={"review": "buyer-review"},
        drop={"contract"},
        moves={"review": "buyer-review", "contract": "buyer-review"},
    )


def funnel_rows(pipeline: Pipeline) -> dict[str, tuple[int, int, int, int]]:
    """(reached, passed, lost here, still open here) per live stage key."""
    found = queries.funnel(filters_for(pipeline))
    return {
        row.stage.key: (
            row.step.entered,
            row.step.passed,
            row.step.lost_here,
            row.step.open_here,
        )
        for row in found.rows
    }


def test_the_funnel_before_the_redesign_counts_each_deal_once(example):
    assert funnel_rows(example) == {
        "inquiry": (12, 10, 1, 1),
        "discovery": (10, 8, 1, 1),
        "proposal": (8, 7, 1, 0),
        "review": (7, 5, 0, 2),
        "contract": (5, 3, 1, 1),
    }


def test_after_the_redesign_the_funnel_judges_deals_against_the_live_stages(
    example,
):
    rename_review_drop_contract()

    assert funnel_rows(example) == {
        "inquiry": (12, 10, 1, 1),
        "discovery": (10, 8, 1, 1),
        "proposal": (8, 7, 1, 0),
        # Deals 1-6 and 9; passed: the three won. Lost: deal 9 (from
        # contract); still open: 4, 5 (back from contract) and 6.
        "buyer-review": (7, 3, 1, 3),
    }
    found = queries.funnel(filters_for(example))
    assert found.rows[-1].step.conversion == pytest.approx(3 / 7)


def test_every_deal_is_passed_lost_or_still_open_once_after_the_redesign(example):
    rename_review_drop_contract()

    found = queries.funnel(filters_for(example))
    lost = sum(row.step.lost_here for row in found.rows)
    still_open = sum(row.step.open_here for row in found.rows)

    assert (found.won, lost, still_open) == (3, 4, 5)
    assert found.won + lost + still_open == found.population == Deal.objects.count()


def test_deals_sent_back_from_retired_stages_have_not_passed_where_they_stand(
    example,
):
    apply_redesign(
        rename={},
        drop={"review", "contract"},
        moves={"review": "proposal", "contract": "proposal"},
    )

    assert funnel_rows(example) == {
        "inquiry": (12, 10, 1, 1),
        "discovery": (10, 8, 1, 1),
        # Deals 1-6, 8 and 9; passed: the three won. Lost: 8 and 9; still
        # open: 4 and 5 (sent back) and 6 (moved back).
        "proposal": (8, 3, 2, 3),
    }


def test_a_stage_dropped_without_a_move_counts_as_the_stage_kept_before_it(
    example,
):
    review, contract = (
        example.stages.get(key="review"),
        example.stages.get(key="contract"),
    )
    # Empty review, so that the file may drop it with no --move: its deals
    # (2, won there, and 4) go on to contract. Its history stays.
    Deal.objects.filter(stage=review).update(stage=contract)

    apply_redesign(rename={}, drop={"review"})

    review.refresh_from_db()
    assert review.retired_at is not None
    assert review.replaced_by.key == "proposal"
    # Deal 6, back from review, is still open in proposal: it counts there.
    assert funnel_rows(example) == {
        "inquiry": (12, 10, 1, 1),
        "discovery": (10, 8, 1, 1),
        "proposal": (8, 6, 1, 1),
        "contract": (6, 3, 1, 2),
    }


def test_a_renamed_stage_renamed_again_still_counts_as_the_live_one(example):
    rename_review_drop_contract()

    apply_redesign(
        rename={"review": "decision"},
        drop={"contract"},
        moves={"buyer-review": "decision"},
    )

    assert funnel_rows(example) == {
        "inquiry": (12, 10, 1, 1),
        "discovery": (10, 8, 1, 1),
        "proposal": (8, 7, 1, 0),
        "decision": (7, 3, 1, 3),
    }


def test_a_stage_retired_before_replacements_were_kept_counts_by_position(
    example,
):
    rename_review_drop_contract()
    example.stages.update(replaced_by=None)

    assert funnel_rows(example)["buyer-review"] == (7, 3, 1, 3)


def test_stages_brought_back_by_the_file_count_as_before_the_redesign(example):
    before = funnel_rows(example)
    rename_review_drop_contract()

    with timesource.frozen_at(REDESIGN):
        apply_pipeline(load_pipeline_file(EXAMPLE), moves={"buyer-review": "review"})

    review = example.stages.get(key="review")
    assert (review.retired_at, review.replaced_by) == (None, None)
    assert funnel_rows(example) == before


def time_rows(pipeline: Pipeline) -> dict[str, tuple[int, int, str | None]]:
    """(stays ended, stays without a duration, unit) per stage as the report
    labels it."""
    found = queries.time_in_stage(filters_for(pipeline))
    return {
        reports.stage_label(one.stage): (
            one.exits,
            one.unmeasured,
            one.spread.unit if one.spread else None,
        )
        for one in found
    }


def test_time_in_stage_keeps_stays_in_retired_stages_under_their_own_names(
    example,
):
    rename_review_drop_contract()

    found = time_rows(example)

    # Review: deals 1, 2, 3, 5, 6 and 9 left it, and deal 4's stay ended
    # with the redesign. Contract: deals 1, 3 and 9, and deal 5's stay.
    assert found == {
        "Inquiry received": (11, 0, queries.BUSINESS_DAYS),
        "Discovery call booked": (9, 0, queries.BUSINESS_DAYS),
        "Proposal requested": (8, 0, queries.BUSINESS_DAYS),
        "Proposal reviewed by the buyer (retired)": (7, 0, queries.BUSINESS_DAYS),
        "Proposal reviewed by the buyer": (0, 0, None),
        "Contract requested (retired)": (4, 0, queries.BUSINESS_DAYS),
    }


def test_stays_in_a_retired_stage_keep_the_figures_they_had(example):
    # Stays that ended in March, long before the redesign.
    march = {"period": "", "from": "2026-03-01", "to": "2026-03-31"}
    before = {
        one.stage.key: (one.exits, one.spread)
        for one in queries.time_in_stage(filters_for(example, **march))
    }

    rename_review_drop_contract()
    after = {
        one.stage.key: (one.exits, one.spread)
        for one in queries.time_in_stage(filters_for(example, **march))
    }

    assert after["review"] == before["review"]
    assert after["contract"] == before["contract"]
    assert after["buyer-review"] == (0, None)
    assert before["review"][0] == 6


def test_a_retired_stage_with_no_stay_in_the_period_is_not_listed(example):
    rename_review_drop_contract()

    found = queries.time_in_stage(filters_for(example, period="30d"))

    assert [one.stage.key for one in found] == [
        "inquiry",
        "discovery",
        "proposal",
        "buyer-review",
    ]


def test_the_report_marks_a_retired_stage(example):
    rename_review_drop_contract()

    with timesource.frozen_at(NOW), queries.session():
        report = reports.overview(filters_for(example), NOW)
    rows = report.table("time_in_stage").rows

    assert [row[0] for row in rows][3:] == [
        "Proposal reviewed by the buyer (retired)",
        "Proposal reviewed by the buyer",
        "Contract requested (retired)",
    ]


def test_the_pipeline_before_the_redesign_counts_retired_stages_in_their_heirs(
    example,
):
    rename_review_drop_contract()

    before = {
        one.stage.key: one.count
        for one in queries.pipeline_now(filters_for(example), day(50))
    }

    # Deal 4 stood in review and deal 5 in contract, both retired since.
    assert before == {
        "inquiry": 1,
        "discovery": 1,
        "proposal": 1,
        "buyer-review": 2,
    }
