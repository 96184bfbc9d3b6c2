"""Helpers shared by the import tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

from dealgate.pipelines.models import Pipeline, Stage

DATA = Path(__file__).parent / "data" / "import"


def make_import_pipeline(
    key: str = "sales", timezone: str = "UTC", loss_reasons: list | None = None
) -> Pipeline:
    """The two open stages the Maven data knows, prospecting then engaging,
    owned by the deal's owner; Mon-Fri 09:00-17:00 in `timezone`."""
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    pipeline = Pipeline.objects.create(
        key=key,
        name=key.title(),
        calendar={
            "timezone": timezone,
            "hours": {day: ["09:00-17:00"] for day in weekdays},
        },
        loss_reasons=loss_reasons or [],
    )
    for position, stage_key in enumerate(["prospecting", "engaging"]):
        Stage.objects.create(
            pipeline=pipeline,
            key=stage_key,
            name=stage_key.title(),
            position=position,
            owner_kind=Stage.OwnerKind.DEAL_OWNER,
        )
    return pipeline


def retire_the_first_stage(pipeline: Pipeline) -> None:
    """Remove the suite's pipeline's first stage, `inquiry`, as the builder
    does: its deal moves on to `discovery`, and its history keeps it,
    retired, at position 0, where `discovery` now stands too, with the
    higher id."""
    from dataclasses import replace

    from dealgate.pipelines.services import apply_pipeline, export_pipeline
    from tests.web.helpers import make_deal

    make_deal(pipeline, "inquiry")
    spec = export_pipeline(pipeline)
    apply_pipeline(
        replace(spec, stages=spec.stages[1:]), moves={"inquiry": "discovery"}
    )
    stages = {stage.key: stage for stage in pipeline.stages.all()}
    assert stages["inquiry"].retired_at is not None
    assert stages["inquiry"].position == stages["discovery"].position == 0
    assert stages["inquiry"].pk < stages["discovery"].pk


def write_csv(folder: Path, text: str, name: str = "deals.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def write_mapping(folder: Path, text: str, name: str = "mapping.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# A small file of three deals (won, talking, open without dates) and its
# mapping, for tests of how an import writes rather than what it reads.
SMALL_MAPPING = """
source = "crm"
loss_reason = "not-recorded"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Open = "prospecting"
Talking = "engaging"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
SMALL_HEADER = "Id,Deal,Stage,Entered,Closed\n"
SMALL_ROWS = (
    "D1,Orbit migration,Won,2026-03-02,2026-04-14\n"
    "D2,Helix audit,Talking,2026-03-10,\n"
    "D3,Quasar support,Open,,\n"
)
