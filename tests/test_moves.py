"""Stage gates: what a move needs, through the one service every door calls."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate import timesource
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.deals.services import MoveRefused, move_deal, update_deal
from dealgate.errors import Conflict, PermissionDenied

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

DECISION_DATE = {
    "label": "Buyer named a decision date",
    "rule": "deal.expected_close_date != null",
}
DISCOVERY_HELD = {
    "label": "Discovery meeting held",
    "rule": 'held("meeting", "discovery")',
}
BUDGET = {"label": "Budget confirmed", "rule": "checklist.budget == true"}


@pytest.fixture
def gated(pipeline):
    stages = {s.key: s for s in pipeline.stages.all()}
    stages["inquiry"].exit_criteria = {"mode": "all", "items": [DISCOVERY_HELD]}
    stages["discovery"].exit_criteria = {"mode": "all", "items": [DECISION_DATE]}
    stages["proposal"].entry_criteria = [BUDGET]
    for stage in stages.values():
        stage.save()
    pipeline.won_criteria = [
        {"label": "Signed agreement recorded", "rule": "deal.custom.signed == true"}
    ]
    pipeline.custom_fields = [{"key": "signed", "label": "Signed", "type": "bool"}]
    pipeline.save()
    return pipeline


@pytest.fixture
def deal(gated, alice):
    stage = gated.stages.get(key="inquiry")
    deal = Deal.objects.create(
        pipeline=gated,
        stage=stage,
        title="Managed backup for Contoso",
        owner=alice,
        value=9000,
        created_at=T0,
        stage_entered_at=T0,
    )
    StageEvent.objects.create(deal=deal, to_stage=stage, to_status="open", at=T0)
    return deal


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=3)):
        yield


def hold_discovery(deal):
    Activity.objects.create(
        deal=deal, kind="meeting", tag="discovery", subject="Call", done=True, at=T0
    )


def stage_changes(deal):
    return list(
        StageEvent.objects.filter(deal=deal)
        .exclude(from_stage=None)
        .values_list("from_stage__key", "to_stage__key", "to_status")
    )


def test_a_forward_move_with_unmet_exit_criteria_is_refused_in_words(deal, alice):
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    assert "Discovery meeting held" in str(refused.value)
    assert "exit criterion of 'Inquiry received'" in str(refused.value)
    deal.refresh_from_db()
    assert (deal.stage.key, deal.version) == ("inquiry", 1)
    assert stage_changes(deal) == []


def test_a_forward_move_records_the_event_and_the_time_spent(deal, alice):
    hold_discovery(deal)
    moved = move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    assert moved.stage.key == "discovery"
    assert moved.version == 2
    assert moved.responsible == alice  # the stage is owned by the deal's owner
    event = StageEvent.objects.filter(deal=deal).latest("id")
    assert (event.from_stage.key, event.to_stage.key, event.by) == (
        "inquiry",
        "discovery",
        alice,
    )
    assert event.from_entered_at == T0
    assert event.at == timesource.now()
    # Mon 1 June 11:00 Berlin to Thu 4 June 11:00: three working days of 8 h.
    assert event.from_business_minutes == 3 * 8 * 60


def test_skipping_a_stage_needs_its_exit_criteria_too(deal, alice):
    hold_discovery(deal)
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "review", by=alice, expected_version=1)
    assert "Buyer named a decision date" in str(refused.value)


def test_a_pipeline_that_allows_skipping_checks_only_the_current_stage(
    deal, gated, alice
):
    gated.allow_skipping = True
    gated.save()
    hold_discovery(deal)
    assert move_deal(deal.pk, "review", by=alice, expected_version=1).stage.key == (
        "review"
    )


def test_the_target_stage_entry_criteria_are_checked(deal, alice):
    hold_discovery(deal)
    Deal.objects.filter(pk=deal.pk).update(
        expected_close_date=dt.date(2026, 9, 30),
        stage=deal.pipeline.stages.get(key="discovery"),
    )
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "proposal", by=alice, expected_version=1)
    assert "entry criterion of 'Proposal requested'" in str(refused.value)
    Deal.objects.filter(pk=deal.pk).update(checklist={"budget": True})
    assert move_deal(deal.pk, "proposal", by=alice, expected_version=1).stage.key == (
        "proposal"
    )


def test_backward_moves_need_nothing_and_are_recorded(deal, alice):
    hold_discovery(deal)
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    move_deal(deal.pk, "inquiry", by=alice, expected_version=2)
    assert stage_changes(deal) == [
        ("inquiry", "discovery", "open"),
        ("discovery", "inquiry", "open"),
    ]


def test_a_manager_may_override_a_refused_move_with_a_reason(deal, max_manager):
    moved = move_deal(
        deal.pk,
        "discovery",
        by=max_manager,
        expected_version=1,
        override_reason="Met the buyer at a trade fair; no formal call",
    )
    assert moved.stage.key == "discovery"
    event = StageEvent.objects.filter(deal=deal).latest("id")
    assert event.override_reason == "Met the buyer at a trade fair; no formal call"


def test_a_rep_cannot_override(deal, alice):
    with pytest.raises(PermissionDenied):
        move_deal(
            deal.pk,
            "discovery",
            by=alice,
            expected_version=1,
            override_reason="trust me",
        )


def meet_every_exit_criterion(deal):
    """What the gated pipeline asks of a deal leaving inquiry and discovery."""
    hold_discovery(deal)
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 9, 30))


def test_won_from_the_last_stage_needs_the_won_criteria(deal, alice):
    Deal.objects.filter(pk=deal.pk).update(
        stage=deal.pipeline.stages.get(key="contract")
    )
    with pytest.raises(MoveRefused, match="Signed agreement recorded") as refused:
        move_deal(deal.pk, "won", by=alice, expected_version=1)
    assert refused.value.unmet == [
        "1 won criterion of 'New business' is unmet: Signed agreement recorded"
    ]
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})
    won = move_deal(deal.pk, "won", by=alice, expected_version=1)
    assert (won.status, won.closed_at) == ("won", timesource.now())


def test_won_needs_the_exit_criteria_of_the_deals_stage_and_every_stage_after_it(
    deal, alice
):
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})

    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "won", by=alice, expected_version=1)

    assert refused.value.unmet == [
        "1 exit criterion of 'Inquiry received' is unmet: Discovery meeting held",
        "1 exit criterion of 'Discovery call booked' is unmet: "
        "Buyer named a decision date",
    ]
    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.version) == ("open", None, 1)
    assert stage_changes(deal) == []


def test_won_lists_the_won_criteria_with_the_stages_they_skip(deal, alice):
    hold_discovery(deal)
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "won", by=alice, expected_version=1)
    assert refused.value.unmet == [
        "1 exit criterion of 'Discovery call booked' is unmet: "
        "Buyer named a decision date",
        "1 won criterion of 'New business' is unmet: Signed agreement recorded",
    ]


def test_won_from_an_early_stage_passes_once_every_stage_after_it_would_let_it_go(
    deal, alice
):
    meet_every_exit_criterion(deal)
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})

    won = move_deal(deal.pk, "won", by=alice, expected_version=1)

    assert (won.status, won.stage.key) == ("won", "inquiry")
    assert stage_changes(deal) == [("inquiry", "inquiry", "won")]
    assert StageEvent.objects.filter(deal=deal).latest("id").override_reason == ""


def test_a_pipeline_that_allows_skipping_wins_on_the_current_stage_and_won_criteria(
    deal, gated, alice
):
    gated.allow_skipping = True
    gated.save()
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})
    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "won", by=alice, expected_version=1)
    assert refused.value.unmet == [
        "1 exit criterion of 'Inquiry received' is unmet: Discovery meeting held"
    ]

    hold_discovery(deal)

    assert move_deal(deal.pk, "won", by=alice, expected_version=1).status == "won"


def test_a_manager_may_win_past_unmet_stages_with_a_recorded_reason(deal, max_manager):
    won = move_deal(
        deal.pk,
        "won",
        by=max_manager,
        expected_version=1,
        override_reason="Signed on the spot at the trade fair",
    )
    assert won.status == "won"
    event = StageEvent.objects.filter(deal=deal).latest("id")
    assert (event.to_status, event.override_reason, event.by) == (
        "won",
        "Signed on the spot at the trade fair",
        max_manager,
    )


def test_a_rep_cannot_win_past_unmet_stages_with_a_reason(deal, alice):
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})
    with pytest.raises(PermissionDenied):
        move_deal(
            deal.pk, "won", by=alice, expected_version=1, override_reason="trust me"
        )
    deal.refresh_from_db()
    assert deal.status == "open"


def test_a_lost_deal_won_after_all_passes_the_gates_of_the_stage_it_closed_from(
    deal, alice
):
    lost = move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})

    with pytest.raises(MoveRefused, match="Discovery meeting held"):
        move_deal(deal.pk, "won", by=alice, expected_version=lost.version)

    meet_every_exit_criterion(deal)
    won = move_deal(deal.pk, "won", by=alice, expected_version=lost.version)
    assert (won.status, won.loss_reason) == ("won", "")


@pytest.mark.parametrize(
    ("reason", "note", "message", "field"),
    [
        ("", "", "needs a loss reason", "loss_reason"),
        ("weather", "", "not in this pipeline's list", "loss_reason"),
        ("other", "  ", "needs a note", "loss_note"),
        ("other", "\u200b\u2800", "holds no visible characters", "loss_note"),
    ],
)
def test_lost_needs_a_listed_reason_and_a_note_for_other(
    deal, max_manager, reason, note, message, field
):
    with pytest.raises(MoveRefused, match=message) as refused:
        move_deal(
            deal.pk,
            "lost",
            by=max_manager,
            expected_version=1,
            loss_reason=reason,
            loss_note=note,
            override_reason="a manager cannot override a missing reason",
        )
    assert refused.value.field == field
    deal.refresh_from_db()
    assert deal.status == "open"
    assert not StageEvent.objects.filter(deal=deal, to_status="lost").exists()


def test_lost_with_a_reason_stores_reason_note_and_close_date(deal, alice):
    lost = move_deal(
        deal.pk,
        "lost",
        by=alice,
        expected_version=1,
        loss_reason="other",
        loss_note="Company was acquired",
    )
    assert (lost.status, lost.loss_reason, lost.loss_note) == (
        "lost",
        "other",
        "Company was acquired",
    )
    assert lost.closed_at == timesource.now()
    assert StageEvent.objects.filter(deal=deal).latest("id").loss_reason == "other"


def test_reopening_a_won_deal_clears_its_close_date_and_winning_again_sets_it(
    deal, alice
):
    """The shared case: won 10 June, reopened 12 June, won again 20 June."""
    meet_every_exit_criterion(deal)
    Deal.objects.filter(pk=deal.pk).update(custom={"signed": True})
    with timesource.frozen_at(dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)):
        move_deal(deal.pk, "won", by=alice, expected_version=1)
    with timesource.frozen_at(dt.datetime(2026, 6, 12, 10, 0, tzinfo=dt.UTC)):
        reopened = move_deal(deal.pk, "inquiry", by=alice, expected_version=2)
    assert (reopened.status, reopened.closed_at) == ("open", None)
    assert Deal.objects.filter(status="open", pk=deal.pk).exists()
    with timesource.frozen_at(dt.datetime(2026, 6, 20, 11, 0, tzinfo=dt.UTC)):
        won = move_deal(deal.pk, "won", by=alice, expected_version=3)
    assert won.closed_at.date() == dt.date(2026, 6, 20)
    assert stage_changes(deal) == [
        ("inquiry", "inquiry", "won"),
        ("inquiry", "inquiry", "open"),
        ("inquiry", "inquiry", "won"),
    ]


def test_a_save_made_on_an_old_version_is_a_conflict(deal, alice, max_manager):
    """The shared case: two people open version 1; one moves, the other edits."""
    hold_discovery(deal)
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    with pytest.raises(Conflict, match="reload"):
        update_deal(
            deal.pk, {"title": "Max's edit"}, by=max_manager, expected_version=1
        )
    deal.refresh_from_db()
    assert (deal.stage.key, deal.title) == ("discovery", "Managed backup for Contoso")
    assert len(stage_changes(deal)) == 1


def test_a_move_on_an_old_version_is_a_conflict(deal, alice):
    hold_discovery(deal)
    update_deal(deal.pk, {"title": "Renamed"}, by=alice, expected_version=1)
    with pytest.raises(Conflict):
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    assert stage_changes(deal) == []


def ready_to_leave_inquiry(pipeline, owner, title):
    """A deal in inquiry that meets every exit criterion the tests below set."""
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=title,
        owner=owner,
        value=9000,
        expected_close_date=dt.date(2026, 9, 30),
        checklist={"budget": True},
        created_at=T0,
        stage_entered_at=T0,
    )
    hold_discovery(deal)
    return deal


def test_a_gated_move_costs_nine_queries_once_its_pipeline_is_known_ten_on_postgres(
    gated, alice, django_assert_num_queries
):
    # An activity, a field and the checklist, as in benchmarks/moves.py.
    inquiry = gated.stages.get(key="inquiry")
    inquiry.exit_criteria = [DISCOVERY_HELD, DECISION_DATE, BUDGET]
    inquiry.save()
    first = ready_to_leave_inquiry(gated, alice, "First")
    second = ready_to_leave_inquiry(gated, alice, "Second")
    # The first move of this revision of the pipeline reads its stages and
    # handoffs; the next ones do not.
    move_deal(first.pk, "discovery", by=alice, expected_version=1)

    # A savepoint and its release (a transaction outside tests), the deal
    # locked and read with its pipeline, its activities, the deal written,
    # the new responsible person read as still active, its event, the old
    # stage's clocks stopped, the new age clock started; on PostgreSQL also
    # the target stage held against a redesign.
    with django_assert_num_queries(10 if connection.vendor == "postgresql" else 9):
        move_deal(second.pk, "discovery", by=alice, expected_version=1)

    assert stage_changes(second) == [("inquiry", "discovery", "open")]


def test_a_move_whose_rules_read_no_activity_does_not_read_them(gated, alice):
    inquiry = gated.stages.get(key="inquiry")
    inquiry.exit_criteria = [DECISION_DATE, BUDGET]
    inquiry.save()
    deal = ready_to_leave_inquiry(gated, alice, "No meetings needed")

    with CaptureQueriesContext(connection) as queries:
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    assert stage_changes(deal) == [("inquiry", "discovery", "open")]
    assert [q for q in queries.captured_queries if "deals_activity" in q["sql"]] == []


@pytest.mark.parametrize(
    "rule",
    [
        'deal.owner == "alice"',
        'deal["owner"] == "alice"',
        '[deal].exists(d, d.owner == "alice")',
        'deal.title != "" && deal . owner == "alice"',
    ],
)
def test_a_rule_reads_the_owner_by_name_however_it_is_written(gated, alice, rule):
    inquiry = gated.stages.get(key="inquiry")
    inquiry.exit_criteria = [{"label": "Alice's deal", "rule": rule}]
    inquiry.save()
    deal = ready_to_leave_inquiry(gated, alice, "Alice's")

    move_deal(deal.pk, "discovery", by=alice, expected_version=1)

    assert stage_changes(deal) == [("inquiry", "discovery", "open")]


def test_reopening_into_a_later_stage_passes_the_gates_a_forward_move_would(
    deal, alice
):
    lost = move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")

    with pytest.raises(MoveRefused) as refused:
        move_deal(deal.pk, "discovery", by=alice, expected_version=lost.version)
    assert "Discovery meeting held" in str(refused.value)
    deal.refresh_from_db()
    assert (deal.status, deal.version) == ("lost", lost.version)

    reopened = move_deal(deal.pk, "inquiry", by=alice, expected_version=lost.version)
    assert (reopened.status, reopened.stage.key) == ("open", "inquiry")
