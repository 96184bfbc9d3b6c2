"""Figures of an applied pipeline for the design review and the picture.

Widths, ages and conversion come from `dealgate.insights.queries` (the same
numbers the insights pages show), skips from the blueprint; this module only
reshapes them. Everything is over all time, since the review judges the
pipeline as it stands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dealgate.core import blueprint as bp
from dealgate.core.review import NO_REASON_KEYS, PipelineData, StageData
from dealgate.deals.models import Deal
from dealgate.insights import queries
from dealgate.insights.filters import Filters, facts_for
from dealgate.pipelines.models import Pipeline

from .blueprints import blueprint_for


@dataclass(frozen=True)
class StageFigures:
    """One active stage now: open deals, those past the age limit, whether it
    is wider than the bottleneck share, and the share of deals that reached
    it and went on (to a later stage, or won)."""

    key: str
    name: str
    open_deals: int
    at_risk: int
    wide: bool
    conversion: float | None


@dataclass(frozen=True)
class Figures:
    stages: list[StageFigures]
    won: int
    review: PipelineData | None  # None unless asked for


def figures_for(
    pipeline: Pipeline,
    now: dt.datetime,
    *,
    review: bool = True,
    blueprint: bp.Blueprint | None = None,
) -> Figures:
    """The figures of `pipeline` at `now`: a handful of aggregate queries,
    plus, for the review, the blueprint's reading of closed deals (unless one
    is given)."""
    filters = Filters(facts_for(pipeline), "all", None, None)
    with queries.session():
        rows = queries.pipeline_now(filters, now)
        funnel = queries.funnel(filters, now)
    conversion = {row.stage.pk: row.step.conversion for row in funnel.rows}
    stages = [
        StageFigures(
            key=row.stage.key,
            name=row.stage.name,
            open_deals=row.count,
            at_risk=row.past_limit,
            wide=row.wide,
            conversion=conversion.get(row.stage.pk),
        )
        for row in rows
    ]
    if not review:
        return Figures(stages=stages, won=funnel.won, review=None)
    blueprint = blueprint or blueprint_for(pipeline)
    data = PipelineData(
        stages={row.stage.key: _stage_data(row, blueprint) for row in rows},
        **_losses(pipeline),
    )
    return Figures(stages=stages, won=funnel.won, review=data)


def _stage_data(row: queries.StageNow, blueprint: bp.Blueprint) -> StageData:
    flow = blueprint.flow(row.stage.key)
    return StageData(
        open_deals=row.count,
        share=row.share,
        median_age_days=row.age.median if row.age else None,
        could_skip=flow.could_skip if flow else 0,
        skipped=flow.skipped if flow else 0,
    )


def _losses(pipeline: Pipeline) -> dict[str, int]:
    """Lost deals, and those whose reason is empty, unlisted or a placeholder."""
    listed = {r.get("key") for r in pipeline.loss_reasons or []} - NO_REASON_KEYS
    lost = Deal.objects.filter(pipeline=pipeline, status=Deal.Status.LOST)
    return {
        "lost": lost.count(),
        "lost_without_reason": lost.exclude(loss_reason__in=listed).count(),
    }
