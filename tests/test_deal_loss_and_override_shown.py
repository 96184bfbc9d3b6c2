"""A deal's loss note, and the override reason each stage event carries, are
shown at every door that reads a deal: `GET /api/v1/deals/ID`, its history,
and `dealgate deal show`; a redesign's moves included."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import move_deal
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.fixture
def deal(pipeline, alice):
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Backup for Contoso",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )


def test_the_api_shows_the_loss_note_of_a_pipeline_without_reasons(client, alice, deal):
    deal.pipeline.loss_reasons = []
    deal.pipeline.save()
    move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_note="Went quiet")
    client.force_login(alice)

    shown = client.get(f"/api/v1/deals/{deal.pk}").json()

    assert (shown["loss_reason"], shown["loss_note"]) == ("", "Went quiet")


def test_an_open_deal_has_an_empty_loss_note(client, alice, deal):
    client.force_login(alice)

    assert client.get(f"/api/v1/deals/{deal.pk}").json()["loss_note"] == ""


def test_the_history_shows_the_override_reason_of_a_move(client, deal, max_manager):
    stage = deal.stage
    stage.exit_criteria = {
        "mode": "all",
        "items": [{"label": "Budget confirmed", "rule": "checklist.budget == true"}],
    }
    stage.save()
    move_deal(
        deal.pk,
        "discovery",
        by=max_manager,
        expected_version=1,
        override_reason="Budget confirmed by phone",
    )
    client.force_login(max_manager)

    history = client.get(f"/api/v1/deals/{deal.pk}/history").json()

    assert [event["override_reason"] for event in history] == [
        "Budget confirmed by phone"
    ]


STAGE = """
[[stages]]
key = "{key}"
name = "{key} stage"
buyer_action = "The buyer did something"
owner = "deal-owner"
age_limit_days = 5
probability = 20
"""


def _spec_text(*keys: str) -> str:
    text = 'key = "sales"\nname = "Sales"\n[calendar]\ntimezone = "UTC"\n'
    text += "always_open = true\n"
    return text + "".join(STAGE.format(key=key) for key in keys)


def test_the_history_shows_the_line_a_redesign_writes(client, olivia):
    apply_pipeline(parse_pipeline(_spec_text("inquiry", "review", "old")))
    pipeline = Pipeline.objects.get(key="sales")
    moved = Deal.objects.create(
        pipeline=pipeline, stage=pipeline.stages.get(key="old"), title="Moved"
    )
    apply_pipeline(
        parse_pipeline(_spec_text("inquiry", "review")),
        moves={"old": "review"},
        by=olivia,
        override_reason="Old stage folded into review",
    )
    client.force_login(olivia)

    history = client.get(f"/api/v1/deals/{moved.pk}/history").json()

    stored = StageEvent.objects.get(deal=moved).override_reason
    assert stored
    assert [event["override_reason"] for event in history] == [stored]


def test_deal_show_prints_a_lost_deals_reason_and_note(deal, alice, capsys):
    move_deal(
        deal.pk,
        "lost",
        by=alice,
        expected_version=1,
        loss_reason="price",
        loss_note="Rival was 20% cheaper",
    )

    assert main(["deal", "show", str(deal.pk)]) == 0

    out = capsys.readouterr().out
    label = [r["label"] for r in deal.pipeline.loss_reasons if r["key"] == "price"]
    assert f"  loss reason: {label[0]} (price)\n" in out
    assert "  loss note: Rival was 20% cheaper\n" in out


def test_deal_show_prints_the_note_of_a_loss_without_a_reason(deal, alice, capsys):
    deal.pipeline.loss_reasons = []
    deal.pipeline.save()
    move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_note="Went quiet")

    assert main(["deal", "show", str(deal.pk)]) == 0

    out = capsys.readouterr().out
    assert "  loss reason: -\n  loss note: Went quiet\n" in out
