from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from ninja import Router, Schema

from dealgate.deals.models import Deal
from dealgate.errors import NotFound

router = Router(tags=["deals"])


class StageEventOut(Schema):
    from_stage: str | None
    to_stage: str | None
    to_status: str
    at: dt.datetime
    by: str | None


class DealOut(Schema):
    id: int
    title: str
    pipeline: str
    stage: str
    status: str
    organization: str | None
    owner: str | None
    value: Decimal | None
    currency: str
    stage_entered_at: dt.datetime | None
    closed_at: dt.datetime | None
    loss_reason: str
    version: int


def deal_out(deal: Deal) -> DealOut:
    return DealOut(
        id=deal.pk,
        title=deal.title,
        pipeline=deal.pipeline.key,
        stage=deal.stage.key,
        status=deal.status,
        organization=deal.organization.name if deal.organization else None,
        owner=deal.owner.username if deal.owner else None,
        value=deal.value,
        currency=deal.currency,
        stage_entered_at=deal.stage_entered_at,
        closed_at=deal.closed_at,
        loss_reason=deal.loss_reason,
        version=deal.version,
    )


@router.get("/{deal_id}", response=DealOut)
def get_deal(request: HttpRequest, deal_id: int) -> DealOut:
    deal = (
        Deal.objects.select_related("pipeline", "stage", "organization", "owner")
        .filter(pk=deal_id)
        .first()
    )
    if deal is None:
        raise NotFound(f"no deal with id {deal_id}")
    return deal_out(deal)


@router.get("/{deal_id}/history", response=list[StageEventOut])
def get_deal_history(request: HttpRequest, deal_id: int) -> list[StageEventOut]:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(f"no deal with id {deal_id}")
    events = deal.events.select_related("from_stage", "to_stage", "by")
    return [
        StageEventOut(
            from_stage=e.from_stage.key if e.from_stage else None,
            to_stage=e.to_stage.key if e.to_stage else None,
            to_status=e.to_status,
            at=e.at,
            by=e.by.username if e.by else None,
        )
        for e in events
    ]
