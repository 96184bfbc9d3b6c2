"""Builders for insights tests: deals with histories written by the product's
own move service, at chosen instants, so every event is what a real move
writes (business minutes included)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import move_deal
from dealgate.insights.filters import Filters, read_filters
from dealgate.pipelines.models import Pipeline
from tests.conftest import NOW

# Mondays at 10:00 in Berlin (the shared pipeline's zone), well before NOW.
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    """START plus n calendar days."""
    return START + dt.timedelta(days=n)


def open_deal(
    pipeline: Pipeline,
    stage: str,
    at: dt.datetime,
    *,
    title: str = "Deal",
    owner=None,
    value: int | None = 1000,
    currency: str = "USD",
    source: str = "",
    organization=None,
    product=None,
    record_entry: bool = True,
) -> Deal:
    """A deal created in `stage` at `at`, with the creation event a writer
    records (unless `record_entry` is False: an import without dates)."""
    target = pipeline.stages.get(key=stage)
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=target,
        title=title,
        owner=owner,
        value=Decimal(value) if value is not None else None,
        currency=currency,
        source=source,
        organization=organization,
        product=product,
        created_at=at if record_entry else None,
        stage_entered_at=at if record_entry else None,
    )
    if record_entry:
        StageEvent.objects.create(
            deal=deal,
            from_stage=None,
            to_stage=target,
            from_status="",
            to_status="open",
            at=at,
            source="web",
        )
    return deal


def move(deal: Deal, to: str, at: dt.datetime, **options) -> Deal:
    """Move through `move_deal` with the clock frozen at `at`."""
    if to == "lost":
        options.setdefault("loss_reason", "price")
    with timesource.frozen_at(at):
        return move_deal(deal.pk, to, by=None, expected_version=None, **options)


def walk(pipeline: Pipeline, steps: list[str], *, every: float = 1, **fields) -> Deal:
    """A deal created in steps[0] on day 0 that then moves to each later step,
    one every `every` days."""
    deal = open_deal(pipeline, steps[0], day(0), **fields)
    for n, to in enumerate(steps[1:], start=1):
        deal = move(deal, to, day(n * every))
    return deal


def filters_for(pipeline: Pipeline, **params: str) -> Filters:
    params.setdefault("period", "all")
    return read_filters({"pipeline": pipeline.key, **params}, now=NOW)


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client
