"""A move sees the pipeline as it is now: the stages and handoffs a process
keeps per pipeline revision are read again after any change, whoever made it."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.deals.models import Deal
from dealgate.deals.services import MoveRefused, move_deal
from dealgate.pipelines.models import Handoff, Pipeline, Stage
from dealgate.pipelines.services import apply_pipeline

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
NAMED_DATE = {
    "label": "Buyer named a decision date",
    "rule": "deal.expected_close_date != null",
}

RENEWALS = """\
key = "renewals"
name = "Renewals"

[calendar]
timezone = "UTC"
[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[[stages]]
key = "due"
name = "Renewal due"
buyer_action = "The buyer's term ends within 90 days"
owner = "deal-owner"
age_limit_days = 5
probability = 50

[[stages]]
key = "quoted"
name = "Quote requested"
buyer_action = "The buyer asked for a renewal quote"
owner = "deal-owner"
age_limit_days = 5
probability = 70

[[handoffs]]
from = "due"
to = "quoted"
response_window = "WINDOW"
"""


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=3)):
        yield


def new_deal(pipeline, stage_key, owner, title):
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key=stage_key),
        title=title,
        owner=owner,
        created_at=T0,
        stage_entered_at=T0,
    )


def test_a_stage_edited_after_a_move_gates_the_next_move(pipeline, alice):
    move_deal(
        new_deal(pipeline, "inquiry", alice, "A").pk,
        "discovery",
        by=alice,
        expected_version=1,
    )
    inquiry = pipeline.stages.get(key="inquiry")
    inquiry.exit_criteria = [NAMED_DATE]
    inquiry.save()

    with pytest.raises(MoveRefused, match="Buyer named a decision date"):
        move_deal(
            new_deal(pipeline, "inquiry", alice, "B").pk,
            "discovery",
            by=alice,
            expected_version=1,
        )


def test_a_stage_added_after_a_move_can_be_entered_by_the_next(pipeline, alice):
    move_deal(
        new_deal(pipeline, "inquiry", alice, "A").pk,
        "discovery",
        by=alice,
        expected_version=1,
    )
    Stage.objects.create(
        pipeline=pipeline,
        key="onboarding",
        name="Onboarding booked",
        position=5,
        owner_kind=Stage.OwnerKind.DEAL_OWNER,
    )

    moved = move_deal(
        new_deal(pipeline, "inquiry", alice, "B").pk,
        "onboarding",
        by=alice,
        expected_version=1,
    )

    assert moved.stage.key == "onboarding"


def test_a_handoff_window_applied_from_the_file_after_a_move_times_the_next(db, alice):
    def apply(window):
        apply_pipeline(parse_pipeline(RENEWALS.replace("WINDOW", window), "r.toml"))
        return Pipeline.objects.get(key="renewals")

    def window_after_move(pipeline, title):
        deal = new_deal(pipeline, "due", alice, title)
        move_deal(deal.pk, "quoted", by=alice, expected_version=1)
        (clock,) = Clock.objects.filter(deal=deal, kind="response", state="running")
        return clock.window_minutes

    renewals = apply("2h")
    assert window_after_move(renewals, "A") == 120
    # Applying changes the handoff row with an UPDATE, then saves the pipeline.
    renewals = apply("4h")
    assert window_after_move(renewals, "B") == 240


def stage_saved(pipeline):
    stage = pipeline.stages.get(key="review")
    stage.age_limit_days = 20
    stage.save(update_fields=["age_limit_days"])


def stage_created(pipeline):
    Stage.objects.create(pipeline=pipeline, key="extra", name="Extra", position=9)


def stage_deleted(pipeline):
    pipeline.stages.get(key="contract").delete()


def handoff_created(pipeline):
    stages = pipeline.stages.all()
    Handoff.objects.create(
        pipeline=pipeline,
        from_stage=stages[0],
        to_stage=stages[1],
        response_window_minutes=60,
    )


def handoff_saved(pipeline):
    handoff = Handoff.objects.get(pipeline=pipeline)
    handoff.response_window_minutes = 30
    handoff.save()


def handoffs_deleted(pipeline):
    Handoff.objects.filter(pipeline=pipeline).delete()


def pipeline_saved(pipeline):
    pipeline.allow_skipping = True
    pipeline.save(update_fields=["allow_skipping"])


@pytest.mark.parametrize(
    ("ready", "write"),
    [
        (None, stage_saved),
        (None, stage_created),
        (None, stage_deleted),
        (None, handoff_created),
        (handoff_created, handoff_saved),
        (handoff_created, handoffs_deleted),
        (None, pipeline_saved),
    ],
)
def test_every_write_of_a_stage_or_handoff_gives_the_pipeline_a_new_revision(
    pipeline, ready, write
):
    if ready is not None:
        ready(pipeline)
    before = Pipeline.objects.get(pk=pipeline.pk).revision

    write(pipeline)

    assert Pipeline.objects.get(pk=pipeline.pk).revision != before


def test_saving_a_copy_read_before_a_stage_changed_does_not_bring_back_its_revision(
    pipeline,
):
    old_copy = Pipeline.objects.get(pk=pipeline.pk)
    stale = old_copy.revision
    stage_saved(pipeline)
    after_stage = Pipeline.objects.get(pk=pipeline.pk).revision

    old_copy.name = "Renamed"
    old_copy.save()

    revision = Pipeline.objects.get(pk=pipeline.pk).revision
    assert revision not in (stale, after_stage)


def test_a_handoff_window_saved_on_its_row_after_a_move_times_the_next(pipeline, alice):
    # Saved on its own, outside apply (a script, the shell), a handoff still
    # gives its pipeline a new revision (the receivers in models.py).
    stages = {stage.key: stage for stage in pipeline.stages.all()}
    handoff = Handoff.objects.create(
        pipeline=pipeline,
        from_stage=stages["inquiry"],
        to_stage=stages["discovery"],
        response_window_minutes=60,
        responsible="stage-owner",
    )

    def window_after_move(title):
        deal = new_deal(pipeline, "inquiry", alice, title)
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)
        (clock,) = Clock.objects.filter(deal=deal, kind="response", state="running")
        return clock.window_minutes

    assert window_after_move("A") == 60
    handoff.response_window_minutes = 90
    handoff.save()

    assert window_after_move("B") == 90
