import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from dealgate.core.criteria import ACTIVITY_KINDS
from dealgate.deals.models import Activity, Deal, StageEvent

WHEN = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    stage = pipeline.stages.get(key="inquiry")
    return Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Managed backup for Contoso",
        owner=alice,
        created_at=WHEN,
        stage_entered_at=WHEN,
    )


def test_stage_events_cannot_be_changed_once_written(deal):
    event = StageEvent.objects.create(
        deal=deal, to_stage=deal.stage, to_status="open", at=WHEN
    )
    event.at = WHEN + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_a_closed_deal_must_have_a_close_time(deal):
    deal.status = Deal.Status.WON
    with pytest.raises(IntegrityError), transaction.atomic():
        deal.save()


def test_an_open_deal_cannot_carry_a_close_time(deal):
    deal.closed_at = WHEN
    with pytest.raises(IntegrityError), transaction.atomic():
        deal.save()


def test_one_external_id_per_source_and_pipeline(deal, pipeline):
    Deal.objects.filter(pk=deal.pk).update(source="crm", external_id="X1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.create(
            pipeline=pipeline,
            stage=deal.stage,
            title="Same deal again",
            source="crm",
            external_id="X1",
        )


def test_the_activity_kinds_rules_accept_are_the_kinds_people_log():
    assert sorted(ACTIVITY_KINDS) == sorted(Activity.LOGGED)
    # The one kind people never log is the system's own records.
    assert set(Activity.Kind.values) - set(ACTIVITY_KINDS) == {"system"}


def test_the_builder_offers_exactly_the_activity_kinds_rules_accept():
    from dealgate.builder.rules import ACTIVITY_KINDS as OFFERED

    assert sorted(kind for kind, _ in OFFERED) == sorted(ACTIVITY_KINDS)
