"""A deal's history runs forward: a move, win, loss or reopen dated before the
deal's last stage event is refused through every door (the service, the CLI,
the API, the deal page), naming the deal, the date given and the date of that
event, and nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import MoveOutOfOrder, move_deal
from tests.conftest import PASSWORD

ENTERED = dt.datetime(2026, 1, 11, 9, 0, tzinfo=dt.UTC)
BEFORE = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
REFUSAL = (
    "a move dated 2026-01-05 11:00 Europe/Berlin comes before its last stage "
    "event, on 2026-01-11 10:00 Europe/Berlin"
)


@pytest.fixture
def deal(pipeline, alice):
    """In discovery since 11 January, with that entry in its history."""
    stage = pipeline.stages.get(key="discovery")
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Helpdesk rollout",
        owner=alice,
        created_at=ENTERED,
        stage_entered_at=ENTERED,
    )
    StageEvent.objects.create(deal=deal, to_stage=stage, to_status="open", at=ENTERED)
    return deal


def history(deal) -> list[tuple[str, dt.datetime]]:
    events = StageEvent.objects.filter(deal=deal).order_by("at", "id")
    return [(event.to_status, event.at) for event in events]


@pytest.mark.parametrize("to", ["proposal", "inquiry", "won", "lost"])
def test_a_move_dated_before_the_last_stage_event_is_refused(deal, alice, to):
    before = history(deal)

    with timesource.frozen_at(BEFORE), pytest.raises(MoveOutOfOrder) as refused:
        move_deal(deal.pk, to, by=alice, expected_version=1, loss_reason="price")

    assert refused.value.message.startswith(f"deal {deal.pk}: {REFUSAL}")
    assert refused.value.status == 422
    deal.refresh_from_db()
    assert (deal.stage.key, deal.status, deal.version) == ("discovery", "open", 1)
    assert history(deal) == before


def test_reopening_before_the_deal_closed_is_refused(deal, alice):
    lost_at = dt.datetime(2026, 2, 2, 10, 0, tzinfo=dt.UTC)
    with timesource.frozen_at(lost_at):
        move_deal(deal.pk, "lost", by=alice, expected_version=1, loss_reason="price")

    earlier = timesource.frozen_at(lost_at - dt.timedelta(days=1))
    with (
        earlier,
        pytest.raises(MoveOutOfOrder, match="on 2026-02-02 11:00 Europe/Berlin"),
    ):
        move_deal(deal.pk, "discovery", by=alice, expected_version=2)

    deal.refresh_from_db()
    assert (deal.status, deal.closed_at) == ("lost", lost_at)


def test_a_move_after_an_event_later_than_the_stage_entry_is_refused(deal, alice):
    # History written by an import may run past the deal's own entry time.
    later = ENTERED + dt.timedelta(days=3)
    StageEvent.objects.create(
        deal=deal, to_stage=deal.stage, to_status="open", at=later
    )

    earlier = timesource.frozen_at(later - dt.timedelta(hours=1))
    with (
        earlier,
        pytest.raises(MoveOutOfOrder, match="on 2026-01-14 10:00 Europe/Berlin"),
    ):
        move_deal(deal.pk, "proposal", by=alice, expected_version=1)


def test_a_move_at_the_instant_of_the_last_event_or_later_is_made(deal, alice):
    with timesource.frozen_at(ENTERED):
        move_deal(deal.pk, "proposal", by=alice, expected_version=1)
    with timesource.frozen_at(ENTERED + dt.timedelta(days=2)):
        move_deal(deal.pk, "won", by=alice, expected_version=2)

    moves = StageEvent.objects.filter(deal=deal, from_status="open").order_by("at")
    # 11 January is a Sunday: the stay in proposal is Monday and an hour of
    # Tuesday (10:00 in Berlin).
    assert [event.from_business_minutes for event in moves] == [0, 9 * 60]


def test_the_cli_refuses_a_back_dated_move_naming_as_of(
    deal, max_manager, capsys, settings
):
    # In a process of its own, --as-of reaches the settings by DEALGATE_AS_OF.
    settings.AS_OF = "2026-01-05T10:00:00+00:00"
    args = ["--as-of", settings.AS_OF, "deal", "move", str(deal.pk)]

    assert main([*args, "proposal", "--as", "max"]) == 2

    err = capsys.readouterr().err
    assert f"--as-of: deal {deal.pk}: {REFUSAL}" in err
    assert "give a later --as-of" in err
    assert Deal.objects.get(pk=deal.pk).stage.key == "discovery"


def test_the_api_refuses_a_back_dated_move_with_its_code(client, alice, deal):
    client.login(username="alice", password=PASSWORD)

    with timesource.frozen_at(BEFORE):
        response = client.post(
            f"/api/v1/deals/{deal.pk}/move",
            {"to": "proposal", "version": 1},
            content_type="application/json",
        )

    assert response.status_code == 422
    assert response.json()["code"] == "move_out_of_order"
    assert REFUSAL in response.json()["message"]
    assert len(history(deal)) == 1


def test_the_deal_page_refuses_a_back_dated_move(client, alice, deal):
    client.force_login(alice)

    with timesource.frozen_at(BEFORE):
        response = client.post(
            reverse("deal-move", args=[deal.pk]), {"to": "won", "version": 1}
        )

    assert response.status_code == 422
    assert REFUSAL in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).status == "open"


def test_local_time_names_the_zone_and_a_time_with_no_pipeline_is_utc():
    from dealgate.pipelines.calendars import local_time, pipeline_time

    at = dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.UTC)

    assert local_time(at, "Europe/Berlin") == "2026-01-06 00:30 Europe/Berlin"
    assert pipeline_time(at, None) == "2026-01-05 23:30 UTC"
