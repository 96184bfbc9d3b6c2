"""Figures of an applied pipeline for the design review and the picture.

Widths, ages and conversion come from `dealgate.insights.queries` (the same
numbers the insights pages show); skips and losses are two aggregate queries
here, with the blueprint's definition of a skip (`dealgate.core.blueprint`).
Everything is over all time, since the review judges the pipeline as it
stands. A page showing them runs a fixed handful of queries, whatever the
number of deals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from dealgate.core.review import NO_REASON_KEYS, PipelineData, StageData
from dealgate.insights import queries, sql
from dealgate.insights.filters import Filters, facts_for
from dealgate.pipelines.models import Pipeline


@dataclass(frozen=True)
class StageFigures:
    """One active stage now: open deals, those past the age limit, whether it
    is wider than the bottleneck share, and the share of deals that reached
    it and went on (to a later stage, or won).

    `reached` counts the deals that reached it or a stage after it (a skip
    or an imported deal placed past it counts, as in the insights'
    conversion), `went_on` those of them that reached a later stage or were
    won: `conversion` is the one over the other."""

    key: str
    name: str
    open_deals: int
    at_risk: int
    wide: bool
    conversion: float | None
    reached: int = 0
    went_on: int = 0


@dataclass(frozen=True)
class Figures:
    stages: list[StageFigures]
    won: int
    review: PipelineData | None  # None unless asked for


def figures_for(
    pipeline: Pipeline, now: dt.datetime, *, review: bool = True
) -> Figures:
    """The figures of `pipeline` at `now`: a handful of aggregate queries
    (the pipeline view, the funnel, and for the review the skips and the
    losses)."""
    facts = facts_for(pipeline)
    filters = Filters(facts, "all", None, None)
    with queries.session():
        rows = queries.pipeline_now(filters, now)
        funnel = queries.funnel(filters, now)
        if review:
            skips = _skips(facts.stages)
            losses = _losses(pipeline)
    steps = {row.stage.pk: row.step for row in funnel.rows}
    stages = [
        StageFigures(
            key=row.stage.key,
            name=row.stage.name,
            open_deals=row.count,
            at_risk=row.past_limit,
            wide=row.wide,
            conversion=step.conversion if step else None,
            reached=step.entered if step else 0,
            went_on=step.passed if step else 0,
        )
        for row in rows
        for step in [steps.get(row.stage.pk)]
    ]
    if not review:
        return Figures(stages=stages, won=funnel.won, review=None)
    data = PipelineData(
        stages={
            row.stage.key: _stage_data(row, *skips.get(row.stage.pk, (0, 0)))
            for row in rows
        },
        **losses,
    )
    return Figures(stages=stages, won=funnel.won, review=data)


def _stage_data(row: queries.StageNow, could_skip: int, skipped: int) -> StageData:
    return StageData(
        open_deals=row.count,
        share=row.share,
        median_age_days=row.age.median if row.age else None,
        could_skip=could_skip,
        skipped=skipped,
    )


def _skips(stages: list) -> dict[int, tuple[int, int]]:
    """Stage id -> (closed deals that could have skipped it, those that did),
    as the blueprint counts them, in one statement over the closed deals'
    stays.

    A closed deal's path is the stages it stayed in: every stage an event
    took it out of while open, or, with no such event, the stage it closed
    from. With stages placed in board order (retired ones too), a deal could
    skip stage k when its path holds a stage before k and k or one after it,
    and skipped k when it holds one before and one after but not k. So per
    deal only the first and last place and the places visited matter: the
    database reduces the stays to those and counts, per place, the deals
    that visited it with a place before it (and also one after), and the
    deals whose span runs across it.
    """
    if not stages:
        return {}
    pipeline_id = stages[0].pipeline_id
    places = {stage.pk: index for index, stage in enumerate(stages)}
    place = (
        "(CASE {} "
        + " ".join(f"WHEN {int(pk)} THEN {index}" for pk, index in places.items())
        + " END)"
    )
    every = " UNION ALL ".join(f"SELECT {index} AS p" for index in places.values())
    stayed = place.format("COALESCE(e.from_stage_id, d.stage_id)")
    statement = (
        # A closed deal without a stay event (it stayed only in the stage it
        # closed from) keeps one row with no event: its closing stage.
        "WITH stays AS ("
        f"SELECT d.id AS deal_id, {stayed} AS p FROM {sql.DEAL} d "
        f"LEFT JOIN {sql.EVENT} e ON e.deal_id = d.id "
        "AND e.from_status = 'open' AND e.from_stage_id IS NOT NULL "
        "WHERE d.pipeline_id = %s AND d.status IN ('won', 'lost')), "
        "visits AS (SELECT DISTINCT deal_id, p FROM stays), "
        # Each visit with its deal's first and last place, by window rather
        # than a join of the visits to their deals.
        "spanned AS (SELECT p, MIN(p) OVER (PARTITION BY deal_id) AS lo, "
        "MAX(p) OVER (PARTITION BY deal_id) AS hi FROM visits), "
        "spans AS (SELECT MIN(p) AS lo, MAX(p) AS hi FROM visits "
        "GROUP BY deal_id) "
        "SELECT 'visit', v.p, SUM(CASE WHEN v.lo < v.p THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN v.lo < v.p AND v.p < v.hi THEN 1 ELSE 0 END) "
        "FROM spanned v GROUP BY v.p "
        "UNION ALL "
        "SELECT 'span', k.p, "
        "SUM(CASE WHEN s.lo < k.p AND k.p < s.hi THEN 1 ELSE 0 END), 0 "
        f"FROM spans s CROSS JOIN ({every}) k GROUP BY k.p"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [pipeline_id])
        rows = cursor.fetchall()
    after_one_before = {p: int(n or 0) for kind, p, n, _ in rows if kind == "visit"}
    inside = {p: int(n or 0) for kind, p, _, n in rows if kind == "visit"}
    across = {p: int(n or 0) for kind, p, n, _ in rows if kind == "span"}
    past = _past_before_added(stages, places, place)
    result = {}
    for pk, index in places.items():
        skipped = across.get(index, 0) - inside.get(index, 0) - past.get(index, 0)
        result[pk] = (after_one_before.get(index, 0) + skipped, skipped)
    return result


def _past_before_added(
    stages: list, places: dict[int, int], place: str
) -> dict[int, int]:
    """Place -> closed deals that went around the stage there only because
    they were past its place before a redesign added it: their span runs
    across it, they never stayed in it, and an event took them to a later
    place before it existed. They could not have passed through it, so they
    are no skip (as the insights' funnel leaves them out). One statement,
    only when a stage was added by a redesign."""
    added = [
        (places[stage.pk], stage.added_at)
        for stage in stages
        if stage.added_at is not None
    ]
    if not added:
        return {}
    dialect = sql.Dialect(connection.vendor)
    stayed = place.format("COALESCE(e.from_stage_id, d.stage_id)")
    reached = place.format("f.to_stage_id")
    visits = (
        f"SELECT DISTINCT d.id AS deal_id, {stayed} AS p FROM {sql.DEAL} d "
        f"LEFT JOIN {sql.EVENT} e ON e.deal_id = d.id "
        "AND e.from_status = 'open' AND e.from_stage_id IS NOT NULL "
        "WHERE d.pipeline_id = %s AND d.status IN ('won', 'lost')"
    )
    parts, params = [], []
    for index, instant in added:
        parts.append(
            f"SELECT {int(index)}, COUNT(*) FROM ("
            "SELECT v.deal_id FROM visits v GROUP BY v.deal_id "
            f"HAVING MIN(v.p) < {int(index)} AND MAX(v.p) > {int(index)} "
            f"AND SUM(CASE WHEN v.p = {int(index)} THEN 1 ELSE 0 END) = 0) s "
            f"WHERE EXISTS (SELECT 1 FROM {sql.EVENT} f WHERE f.deal_id = s.deal_id "
            f"AND f.at < %s AND {reached} > {int(index)})"
        )
        params.append(dialect.instant(instant))
    statement = f"WITH visits AS ({visits}) " + " UNION ALL ".join(parts)
    with connection.cursor() as cursor:
        cursor.execute(statement, [stages[0].pipeline_id, *params])
        return {int(index): int(n) for index, n in cursor.fetchall()}


def _losses(pipeline: Pipeline) -> dict[str, int]:
    """Lost deals, those whose reason is empty, unlisted or a placeholder,
    and each of the three apart (one aggregate)."""
    listed = sorted(
        {r.get("key") for r in pipeline.loss_reasons or []} - NO_REASON_KEYS - {None}
    )
    placeholders = sorted(NO_REASON_KEYS - {""})
    known = "d.loss_reason IN ({})".format(", ".join(["%s"] * len(listed)) or "NULL")
    placeholder = "d.loss_reason IN ({})".format(", ".join(["%s"] * len(placeholders)))
    statement = (
        f"SELECT COUNT(*), SUM(CASE WHEN {known} THEN 0 ELSE 1 END), "
        "SUM(CASE WHEN d.loss_reason IS NULL OR d.loss_reason = '' "
        "THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {placeholder} THEN 1 ELSE 0 END) "
        f"FROM {sql.DEAL} d WHERE d.pipeline_id = %s AND d.status = 'lost'"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*listed, *placeholders, pipeline.pk])
        lost, without, empty, placeheld = (int(n or 0) for n in cursor.fetchone())
    return {
        "lost": lost,
        "lost_without_reason": without,
        "lost_empty_reason": empty,
        "lost_placeholder_reason": placeheld,
    }
