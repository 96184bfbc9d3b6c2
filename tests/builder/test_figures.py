"""The figures the builder's pages show (the picture and the design review):
aggregate queries, as many for a hundred deals as for a few, and skips
counted as the blueprint counts them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.builder.blueprints import blueprint_for
from dealgate.builder.figures import figures_for
from dealgate.deals.models import Deal, StageEvent
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def closed_deal(pipeline, path: list[str], outcome: str, *, record: bool = True):
    """A deal that entered path[0], moved through the rest a day apart and
    closed as `outcome`; without `record`, no history at all (an import)."""
    stages = {stage.key: stage for stage in pipeline.stages.all()}
    closed = START + dt.timedelta(days=len(path))
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stages[path[-1]],
        status=outcome,
        title=" ".join(path),
        created_at=START,
        stage_entered_at=START + dt.timedelta(days=len(path) - 1),
        closed_at=closed,
        loss_reason="price" if outcome == "lost" else "",
    )
    if not record:
        return deal
    StageEvent.objects.create(
        deal=deal, to_stage=stages[path[0]], to_status="open", at=START
    )
    for index, key in enumerate(path):
        last = index == len(path) - 1
        StageEvent.objects.create(
            deal=deal,
            from_stage=stages[key],
            to_stage=stages[key if last else path[index + 1]],
            from_status="open",
            to_status=outcome if last else "open",
            at=START + dt.timedelta(days=index + 1),
            from_entered_at=START + dt.timedelta(days=index),
        )
    return deal


def skips_of(pipeline) -> dict[str, tuple[int, int]]:
    data = figures_for(pipeline, NOW).review
    return {key: (s.could_skip, s.skipped) for key, s in data.stages.items()}


def test_skips_are_counted_as_the_blueprint_counts_them(pipeline):
    closed_deal(pipeline, ["inquiry", "proposal"], "won")
    closed_deal(pipeline, ["inquiry", "discovery", "proposal"], "lost")
    closed_deal(pipeline, ["discovery", "inquiry", "review"], "won")
    closed_deal(pipeline, ["proposal", "discovery"], "lost")
    closed_deal(pipeline, ["inquiry", "contract", "inquiry"], "lost")
    closed_deal(pipeline, ["review"], "lost", record=False)

    found = skips_of(pipeline)
    blueprint = blueprint_for(pipeline)

    assert found == {
        flow.stage: (flow.could_skip, flow.skipped) for flow in blueprint.stages
    }
    # Discovery: the first deal went around it; the second and third passed
    # it with a stage before it; the last went around it back to inquiry.
    assert found["discovery"] == (4, 2)
    assert found["inquiry"] == (0, 0)


def test_lost_deals_without_a_listed_reason_are_counted(pipeline):
    closed_deal(pipeline, ["inquiry"], "lost")
    Deal.objects.filter(pk=closed_deal(pipeline, ["inquiry"], "lost").pk).update(
        loss_reason="gone"
    )

    data = figures_for(pipeline, NOW).review

    assert (data.lost, data.lost_without_reason) == (2, 1)


def test_lost_deals_are_counted_apart_as_empty_unlisted_or_placeholder(pipeline):
    reasons = ["", "not-recorded", "not-recorded", "no-such-reason"]
    for reason in reasons:
        Deal.objects.filter(pk=closed_deal(pipeline, ["inquiry"], "lost").pk).update(
            loss_reason=reason
        )

    data = figures_for(pipeline, NOW).review

    assert (data.lost, data.lost_without_reason) == (4, 4)
    assert (data.lost_empty_reason, data.lost_placeholder_reason) == (1, 2)


def queries_of(read) -> int:
    with CaptureQueriesContext(connection) as captured:
        read()
    return len(captured.captured_queries)


def test_the_pages_cost_the_same_queries_for_few_deals_as_for_many(
    it_services, admin_client
):
    pages = ["/pipelines/it-services/", "/pipelines/it-services/edit/"]

    def counts():
        return [queries_of(lambda url=url: admin_client.get(url)) for url in pages]

    closed_deal(it_services, ["inquiry", "discovery"], "won")
    few = counts()
    for n in range(40):
        path = ["inquiry", "discovery", "proposal", "review"][: 1 + n % 4]
        closed_deal(it_services, path, "won" if n % 3 else "lost")
    many = counts()

    assert many == few


def test_the_figures_are_five_aggregates_around_the_pipelines_shape(it_services):
    closed_deal(it_services, ["inquiry", "discovery"], "won")
    figures_for(it_services, NOW)  # folds the rollups' log of that deal

    # Stages and handoffs; whether the rollups have changes to fold; the
    # transaction (a savepoint inside the test's), on PostgreSQL tuned with
    # two settings; in it the pipeline view (counts, ages), the funnel, the
    # skips and the losses.
    tuning = 2 if connection.vendor == "postgresql" else 0
    assert queries_of(lambda: figures_for(it_services, NOW)) == 2 + 1 + 2 + tuning + 5
