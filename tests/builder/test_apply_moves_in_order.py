"""Applying a pipeline moves the deals of a removed stage at the apply's date;
as for any move, that date may not come before a moved deal's last stage
event. Every door (the service, `pipeline apply`, the builder) refuses such
an apply before changing anything, saying how many deals and which, and what
to do. The deals go back to the stage before, which no gate guards, so the
date is all that stands in their way."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.builder.models import Draft
from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.deals.models import Deal, StageEvent
from dealgate.pipelines.models import active_stages
from dealgate.pipelines.services import (
    MovesOutOfOrder,
    apply_pipeline,
    plan_pipeline,
)
from tests.builder.conftest import post
from tests.conftest import NOW
from tests.web.helpers import make_deal, text_of

LATER = NOW + dt.timedelta(days=2)


def late_deal(pipeline, title: str = "Acme rollout", *, at=LATER) -> Deal:
    """A deal in review whose last stage event comes after NOW."""
    deal = make_deal(pipeline, "review", title=title)
    StageEvent.objects.create(deal=deal, to_stage=deal.stage, to_status="open", at=at)
    return deal


def untouched(pipeline, *deals: Deal) -> bool:
    """Nothing of the apply was written: review is still a live stage and
    every deal sits in it, at its first version, with no pipeline event."""
    stages = [stage.key for stage in active_stages(pipeline)]
    rows = Deal.objects.filter(pk__in=[deal.pk for deal in deals])
    return (
        "review" in stages
        and all(row.stage.key == "review" and row.version == 1 for row in rows)
        and not StageEvent.objects.filter(source="pipeline").exists()
    )


def test_an_apply_dated_before_a_moved_deals_last_event_is_refused(
    it_services, shrunk, now
):
    deal = late_deal(it_services)

    with pytest.raises(MovesOutOfOrder) as refused:
        apply_pipeline(load_pipeline_file(shrunk), moves={"review": "proposal"})

    assert refused.value.message == (
        "nothing applied: 1 deal it would move has a stage event after "
        f"2026-06-10 14:00 Europe/Berlin, the date the move would carry (deal "
        f"{deal.pk} on 2026-06-12 14:00 Europe/Berlin); a deal's history only "
        "runs forward; apply at 2026-06-12 14:00 Europe/Berlin or later"
    )
    assert (refused.value.field, refused.value.status) == ("moves", 422)
    assert untouched(it_services, deal)


def test_the_refusal_counts_every_late_deal_and_names_the_first_few(
    it_services, shrunk, now
):
    late = [
        late_deal(it_services, f"late {n}", at=LATER + dt.timedelta(hours=n))
        for n in range(5)
    ]
    in_order = make_deal(it_services, "review", title="in order")

    with pytest.raises(MovesOutOfOrder) as refused:
        apply_pipeline(load_pipeline_file(shrunk), moves={"review": "proposal"})

    message = refused.value.message
    assert "5 deals it would move have a stage event after" in message
    named = ", ".join(
        f"deal {deal.pk} on 2026-06-12 1{n}:00 Europe/Berlin"
        for n, deal in enumerate(late[:3], start=4)
    )
    assert f"({named}, and 2 more)" in message
    # The earliest date that lets every one of them move: the latest event.
    assert message.endswith("apply at 2026-06-12 18:00 Europe/Berlin or later")
    assert untouched(it_services, *late, in_order)


def test_a_deal_closed_after_the_apply_date_is_refused_too(it_services, shrunk):
    deal = make_deal(it_services, "review", status=Deal.Status.WON)
    Deal.objects.filter(pk=deal.pk).update(closed_at=LATER)

    with timesource.frozen_at(NOW), pytest.raises(MovesOutOfOrder, match="1 deal"):
        apply_pipeline(load_pipeline_file(shrunk), moves={"review": "proposal"})

    assert untouched(it_services, deal)


def test_the_same_apply_goes_through_once_the_date_reaches_the_last_event(
    it_services, shrunk
):
    deal = late_deal(it_services)

    with timesource.frozen_at(LATER):
        apply_pipeline(load_pipeline_file(shrunk), moves={"review": "proposal"})

    deal.refresh_from_db()
    assert (deal.stage.key, deal.version) == ("proposal", 2)
    event = StageEvent.objects.get(deal=deal, source="pipeline")
    assert event.at == LATER


def test_the_plan_warns_that_applying_now_would_be_refused(it_services, shrunk, now):
    deal = late_deal(it_services)

    plan = plan_pipeline(load_pipeline_file(shrunk), moves={"review": "proposal"})

    assert plan.notes == [
        "applying now is refused: 1 deal it would move has a stage event after "
        f"2026-06-10 14:00 Europe/Berlin, the date the move would carry (deal "
        f"{deal.pk} on 2026-06-12 14:00 Europe/Berlin); a deal's history only "
        "runs forward"
    ]


def test_pipeline_apply_at_an_earlier_as_of_is_refused_naming_as_of(
    it_services, shrunk, capsys, settings, monkeypatch
):
    deal = late_deal(it_services)
    settings.AS_OF = "2026-06-10T12:00:00+00:00"
    monkeypatch.setenv("DEALGATE_AS_OF", settings.AS_OF)

    status = main(["pipeline", "apply", str(shrunk), "--move", "review=proposal"])

    assert status == 2
    captured = capsys.readouterr()
    assert "note: applying now is refused: 1 deal it would move" in captured.out
    err = captured.err
    assert err.startswith("dealgate: --as-of: nothing applied: 1 deal it would")
    assert f"(deal {deal.pk} on 2026-06-12 14:00 Europe/Berlin)" in err
    assert "give --as-of 2026-06-12 or later" in err
    assert untouched(it_services, deal)


def test_the_builder_refuses_the_apply_and_keeps_the_draft(
    manager_client, it_services, now
):
    deal = late_deal(it_services)
    post(manager_client, "/pipelines/it-services/edit/stages/review/remove/")

    response = post(
        manager_client,
        "/pipelines/it-services/apply/",
        {"move-review": "proposal"},
        status=422,
    )

    page = text_of(response)
    assert "nothing applied: 1 deal it would move has a stage event after" in page
    assert "apply once the site's date (its as-of date) is 2026-06-12" in page
    assert Draft.objects.filter(key="it-services").exists()
    assert untouched(it_services, deal)
