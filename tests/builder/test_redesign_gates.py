"""Removing a stage is no way around the gates: its deals go as they are
only back, or to a stage added in its place (the new first stage, when none
is kept before it); to a stage that stood after it, even the next one, each
open deal passes the criteria on the way, or a manager's override for deals
of their teams (an admin's for any), written in its history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from dealgate.builder import edits
from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.pipelines.models import Stage
from dealgate.pipelines.redesign import GatesRefused, free_targets
from dealgate.pipelines.services import apply_pipeline, plan_pipeline
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import make_deal, text_of

REASON = "The buyer signed on paper before the call; see the scan"


@pytest.fixture
def zoe(django_user_model):
    """A rep in no team: no manager's teams hold her deals."""
    return django_user_model.objects.create_user(username="zoe", role="rep")


@pytest.fixture
def nina(django_user_model):
    """A manager who manages no team."""
    return django_user_model.objects.create_user(username="nina", role="manager")


@pytest.fixture
def without_inquiry(it_services):
    return edits.remove_stage(load_pipeline_file(IT_SERVICES), "inquiry")


def stage_keys(*deals: Deal) -> list[str]:
    return [Deal.objects.get(pk=deal.pk).stage.key for deal in deals]


def test_free_targets_are_the_stages_back_or_new_in_the_removed_ones_place():
    before = ["a", "b", "c", "d", "e"]

    # The next stage, "c", stood after "b": a step forward, gated.
    assert free_targets(before, ["a", "c", "d", "e"], "b") == ["a"]
    assert free_targets(before, ["a", "b", "d", "e"], "c") == ["a", "b"]
    assert free_targets(before, ["a", "b", "c", "d"], "e") == ["a", "b", "c", "d"]
    # A stage the file adds where the removed one stood (a new key in its
    # place) is where its deals stood too.
    assert free_targets(before, ["a", "x", "y", "c", "d"], "b") == ["a", "x", "y"]


def test_a_stage_that_stood_after_the_removed_one_is_gated_when_reordered_before():
    before = ["a", "b", "c", "d"]

    # "c" stood after "b": moving it first in the same redesign does not make
    # it a place "back" for b's deals.
    assert free_targets(before, ["c", "a", "d"], "b") == ["a"]
    assert free_targets(before, ["a", "d", "c"], "b") == ["a"]


def test_with_no_stage_kept_before_it_only_the_new_first_stage_is_free():
    before = ["a", "b", "c"]

    # Nowhere is earlier, so the first stage takes its deals, even one that
    # stood after it; the one after that is gated.
    assert free_targets(before, ["b", "c"], "a") == ["b"]
    # A stage the file adds first takes them, and the old next one is gated.
    assert free_targets(before, ["x", "b", "c"], "a") == ["x"]


def test_a_manager_cannot_send_other_teams_deals_past_every_gate(
    without_inquiry, nina, zoe, now
):
    first = make_deal(_pipeline(), "inquiry", title="Fabrikam", owner=zoe)
    second = make_deal(_pipeline(), "inquiry", title="Contoso", owner=zoe)

    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(
            without_inquiry, moves={"inquiry": "contract"}, by=nina,
            override_reason=REASON,
        )  # fmt: skip

    message = refused.value.message
    assert message.startswith("nothing applied: 2 deals of removed stages would")
    assert f"deal {first.pk} belongs to someone outside your teams" in message
    assert f"deal {second.pk} belongs to someone outside your teams" in message
    assert "the deals of 'inquiry' may go to 'discovery' without gates" in message
    assert stage_keys(first, second) == ["inquiry", "inquiry"]
    assert Stage.objects.get(key="inquiry").retired_at is None
    assert not StageEvent.objects.exists()


def test_the_stage_that_takes_the_removed_ones_place_needs_no_gate(
    without_inquiry, nina, zoe, now
):
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam", owner=zoe)

    apply_pipeline(without_inquiry, moves={"inquiry": "discovery"}, by=nina)

    event = StageEvent.objects.get(deal=deal)
    assert stage_keys(deal) == ["discovery"]
    assert event.by == nina
    assert event.override_reason == (
        "pipeline 'it-services' redesigned by nina: stage 'inquiry' (Inquiry received) "
        "was removed and its deals moved to 'discovery' (Discovery call booked)"
    )


def test_further_forward_unmet_criteria_are_refused_naming_each_deal(
    without_inquiry, olivia, now
):
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam")

    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(without_inquiry, moves={"inquiry": "proposal"}, by=olivia)

    message = refused.value.message
    assert (
        f"deal {deal.pk} (Fabrikam): 2 exit criteria of 'Inquiry received'" in message
    )
    assert "3 exit criteria of 'Discovery call booked' are unmet" in message
    assert "1 entry criterion of 'Proposal requested' is unmet" in message
    assert "a manager may give a reason to override unmet criteria" in message
    assert stage_keys(deal) == ["inquiry"]


def test_an_admins_reason_overrides_and_is_written_in_the_history(
    without_inquiry, olivia, zoe, now, caplog, django_capture_on_commit_callbacks
):
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam", owner=zoe)

    with django_capture_on_commit_callbacks(execute=True):
        apply_pipeline(
            without_inquiry, moves={"inquiry": "contract"}, by=olivia,
            override_reason=f"  {REASON} ",
        )  # fmt: skip

    event = StageEvent.objects.get(deal=deal)
    assert stage_keys(deal) == ["contract"]
    assert event.override_reason.startswith(
        "pipeline 'it-services' redesigned by olivia: stage 'inquiry' "
        "(Inquiry received) was removed and its deals moved to 'contract' "
        "(Contract requested), now after 'discovery', 'proposal', 'review'; "
        "moved past unmet criteria (2 exit criteria of "
        "'Inquiry received' are unmet"
    )
    assert event.override_reason.endswith(f"by override: {REASON}")
    assert (
        f"pipeline it-services: deal {deal.pk} moved from stage inquiry to "
        "contract past unmet criteria by olivia's override"
    ) in caplog.messages


def test_a_manager_overrides_for_the_deals_of_their_teams_only(
    without_inquiry, max_manager, alice, zoe, now
):
    ours = make_deal(_pipeline(), "inquiry", title="Ours", owner=alice)
    theirs = make_deal(_pipeline(), "inquiry", title="Theirs", owner=zoe)

    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(
            without_inquiry, moves={"inquiry": "proposal"}, by=max_manager,
            override_reason=REASON,
        )  # fmt: skip

    assert refused.value.verdict.refusals == [
        f"deal {theirs.pk} belongs to someone outside your teams; ask its owner "
        "or their manager"
    ]
    assert stage_keys(ours, theirs) == ["inquiry", "inquiry"]

    theirs.delete()
    apply_pipeline(
        without_inquiry, moves={"inquiry": "proposal"}, by=max_manager,
        override_reason=REASON,
    )  # fmt: skip
    assert stage_keys(ours) == ["proposal"]


def test_a_rep_cannot_override_even_with_a_reason(without_inquiry, alice, now):
    deal = make_deal(_pipeline(), "inquiry", title="Mine", owner=alice)

    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(
            without_inquiry, moves={"inquiry": "proposal"}, by=alice,
            override_reason=REASON,
        )  # fmt: skip

    assert "only a manager or admin may override" in refused.value.message
    assert stage_keys(deal) == ["inquiry"]


def test_deals_that_meet_the_criteria_on_the_way_go_forward_without_override(
    without_inquiry, max_manager, alice, now
):
    deal = make_deal(_pipeline(), "inquiry", title="Ready", owner=alice)
    deal.custom = {
        "need": "Backups",
        "budget": 9000,
        "engagement": "Retainer",
        "decision_date": "2026-07-01",
    }
    deal.value = Decimal(9000)
    deal.save()
    for kind, tag in (("email", "first-reply"), ("meeting", "discovery")):
        Activity.objects.create(
            deal=deal, kind=kind, tag=tag, subject=tag, done=True,
            at=now - dt.timedelta(hours=2),
        )  # fmt: skip

    apply_pipeline(without_inquiry, moves={"inquiry": "proposal"}, by=max_manager)

    event = StageEvent.objects.get(deal=deal)
    assert stage_keys(deal) == ["proposal"]
    assert "override" not in event.override_reason


def test_closed_deals_go_where_they_are_sent_without_gates(
    without_inquiry, nina, zoe, now
):
    lost = make_deal(_pipeline(), "inquiry", owner=zoe, status=Deal.Status.LOST)

    apply_pipeline(without_inquiry, moves={"inquiry": "contract"}, by=nina)

    assert stage_keys(lost) == ["contract"]


def test_the_plan_says_when_applying_would_be_refused(without_inquiry, nina, zoe, now):
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam", owner=zoe)

    plan = plan_pipeline(without_inquiry, moves={"inquiry": "contract"}, by=nina)

    lines = plan.lines()
    assert (
        "remove stage 'inquiry' (Inquiry received); move its 1 open deal to 'contract' "
        "(forward, past where its deals may go as they are: each open deal needs "
        "the criteria on the way, or an override)"
    ) in lines
    assert any(
        line.startswith("note: applying now is refused: 1 deal of removed stages")
        and f"deal {deal.pk} belongs to someone outside your teams" in line
        for line in lines
    )


def test_pipeline_apply_takes_an_override_with_the_person_who_gives_it(
    without_inquiry, olivia, tmp_path, capsys, now
):
    from dealgate.core.pipeline_file import dump_pipeline

    path = tmp_path / "it.toml"
    path.write_text(dump_pipeline(without_inquiry), encoding="utf-8")
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam")
    move = ["pipeline", "apply", str(path), "--move", "inquiry=contract"]

    refused = main([*move, "--as", "olivia"])
    err = capsys.readouterr().err
    applied = main([*move, "--as", "olivia", "--override", REASON])

    assert refused == 2
    assert f"deal {deal.pk} (Fabrikam): 2 exit criteria" in err
    assert "(on the command line: --override REASON with --as USERNAME" in err
    assert applied == 0
    assert stage_keys(deal) == ["contract"]
    assert StageEvent.objects.get(deal=deal).override_reason.endswith(REASON)


def _pipeline():
    from dealgate.pipelines.models import Pipeline

    return Pipeline.objects.get(key="it-services")


def test_the_builder_refuses_a_manager_jumping_other_teams_deals_forward(
    it_services, nina, zoe, now
):
    client = Client()
    client.force_login(nina)
    deals = [
        make_deal(_pipeline(), "inquiry", title=title, owner=zoe)
        for title in ("Fabrikam", "Contoso")
    ]
    post(client, "/pipelines/it-services/edit/stages/inquiry/remove/")

    response = post(
        client,
        "/pipelines/it-services/apply/",
        {"move-inquiry": "contract", "override_reason": REASON},
        status=422,
    )

    page = text_of(response)
    assert "Nothing was applied" in page
    for deal in deals:
        assert f"deal {deal.pk} belongs to someone outside your teams" in page
    assert "may go to 'discovery' without gates; a reason goes in the box" in page
    assert f'value="{REASON}"' in response.content.decode()
    assert stage_keys(*deals) == ["inquiry", "inquiry"]

    post(client, "/pipelines/it-services/apply/", {"move-inquiry": "discovery"})
    assert stage_keys(*deals) == ["discovery", "discovery"]


def test_a_manager_sending_deals_to_the_next_stage_passes_its_gates_first(
    manager_client, it_services, alice, now
):
    deal = make_deal(_pipeline(), "review", title="Northwind", owner=alice)
    post(manager_client, "/pipelines/it-services/edit/stages/review/remove/")
    to_next = {"move-review": "contract"}

    refused = post(manager_client, "/pipelines/it-services/apply/", to_next, status=422)

    page = text_of(refused)
    assert (
        f"deal {deal.pk} (Northwind): 2 exit criteria of 'Proposal reviewed by the "
        "buyer' are unmet"
    ) in page
    assert "1 entry criterion of 'Contract requested' is unmet" in page
    assert (
        "the deals of 'review' may go to 'inquiry', 'discovery', 'proposal' "
        "without gates"
    ) in page
    assert "Sent to a stage that stood after it, even the next one, each" in page
    assert stage_keys(deal) == ["review"]

    deal.custom = {"open_questions": 0, "decision_maker_seen": True}
    deal.save()
    Activity.objects.create(
        deal=deal, kind="call", tag="verbal-yes", subject="Verbal yes", done=True,
        at=now - dt.timedelta(hours=1),
    )  # fmt: skip
    post(manager_client, "/pipelines/it-services/apply/", to_next)

    assert stage_keys(deal) == ["contract"]
    assert "override" not in StageEvent.objects.get(deal=deal).override_reason


def test_the_builder_writes_an_admins_override_in_each_deals_history(
    admin_client, it_services, zoe, now
):
    deal = make_deal(_pipeline(), "inquiry", title="Fabrikam", owner=zoe)
    post(admin_client, "/pipelines/it-services/edit/stages/inquiry/remove/")

    post(
        admin_client,
        "/pipelines/it-services/apply/",
        {"move-inquiry": "contract", "override_reason": REASON},
    )

    assert stage_keys(deal) == ["contract"]
    event = StageEvent.objects.get(deal=deal)
    assert event.override_reason.endswith(f"by override: {REASON}")
    assert "redesigned by olivia" in event.override_reason
