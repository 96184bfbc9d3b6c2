"""Small builders for board and deal page tests."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

from dealgate.deals.models import Deal, Organization
from dealgate.pipelines.models import Pipeline
from tests.conftest import NOW


def make_deal(
    pipeline: Pipeline,
    stage: str,
    *,
    title: str = "Deal",
    value: Decimal | int | None = 1000,
    currency: str = "USD",
    owner=None,
    organization: str | None = None,
    days_in_stage: float | None = 1,
    status: str = Deal.Status.OPEN,
) -> Deal:
    """An open deal that entered `stage` the given number of days before NOW."""
    entered = None
    if days_in_stage is not None:
        entered = NOW - dt.timedelta(days=days_in_stage)
    org = None
    if organization:
        org, _ = Organization.objects.get_or_create(name=organization)
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key=stage),
        status=status,
        title=title,
        value=Decimal(value) if value is not None else None,
        currency=currency,
        owner=owner,
        organization=org,
        created_at=entered,
        stage_entered_at=entered,
        closed_at=None if status == Deal.Status.OPEN else NOW,
    )


def text_of(response) -> str:
    """The page as one line of text, tags dropped, so tests read like a user."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
