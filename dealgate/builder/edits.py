"""Edits of a pipeline spec, one builder action each, and the spec as data.

Every edit takes a `PipelineSpec` and returns a new one; none touches the
database. An edit that cannot be made raises `ValidationError` naming the
form field. Handoffs are kept in pipeline order after every edit (from a new
lead first, then by the stage left, then by the stage entered), the order
`export_pipeline` gives, so a draft and the pipeline it becomes compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dealgate.core import criteria
from dealgate.core.checklist import check_key as check_checklist_key
from dealgate.core.checklist import items_in_rule
from dealgate.core.names import name_key
from dealgate.core.pipeline_file import (
    DEAL_OWNER,
    FALLBACK_DAY_MINUTES,
    LEAD,
    MAX_AGE_LIMIT_DAYS,
    RESERVED_STAGE_KEYS,
    SLUG_HELP,
    CriterionSpec,
    CustomFieldSpec,
    HandoffSpec,
    LossReasonSpec,
    PipelineSpec,
    StageSpec,
    day_minutes,
)
from dealgate.core.text import required_text
from dealgate.errors import ValidationError

ENTRY = "entry"
EXIT = "exit"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
STAGE_FIELDS = (
    "name",
    "buyer_action",
    "owner",
    "age_limit_days",
    "probability",
    "exit_criteria_mode",
)
PIPELINE_FIELDS = (
    "name",
    "description",
    "currency",
    "allow_skipping",
    "bottleneck_share",
)


# --- the spec as data ----------------------------------------------------------


def spec_to_data(spec: PipelineSpec) -> dict[str, Any]:
    """`spec` as JSON-ready data; `spec_from_data` reads it back equal."""
    data = asdict(replace(spec, source=None))
    del data["source"]
    return data


def spec_from_data(data: Mapping[str, Any]) -> PipelineSpec:
    return PipelineSpec(
        key=data["key"],
        name=data["name"],
        description=data.get("description", ""),
        currency=data.get("currency", "USD"),
        allow_skipping=data.get("allow_skipping", False),
        bottleneck_share=data["bottleneck_share"],
        calendar=data.get("calendar") or {},
        stages=tuple(_stage_from_data(stage) for stage in data["stages"]),
        handoffs=tuple(HandoffSpec(**handoff) for handoff in data["handoffs"]),
        won_criteria=_criteria(data.get("won_criteria", [])),
        loss_reasons=tuple(LossReasonSpec(**r) for r in data.get("loss_reasons", [])),
        custom_fields=tuple(
            CustomFieldSpec(f["key"], f["label"], f["type"], tuple(f["choices"]))
            for f in data.get("custom_fields", [])
        ),
        # Drafts saved before the spec held rules have neither key.
        breach=data.get("breach") or {},
        routing=tuple(data.get("routing") or ()),
    )


def _stage_from_data(data: Mapping[str, Any]) -> StageSpec:
    return StageSpec(
        **{
            **data,
            "entry_criteria": _criteria(data["entry_criteria"]),
            "exit_criteria": _criteria(data["exit_criteria"]),
        }
    )


def _criteria(items: list[Mapping[str, str]]) -> tuple[CriterionSpec, ...]:
    return tuple(CriterionSpec(item["label"], item["rule"]) for item in items)


# --- stages ------------------------------------------------------------------------


def check_key(key: str, what: str) -> None:
    """Refuse a pipeline or stage key that is not a slug (field "key")."""
    if not _SLUG.fullmatch(key):
        raise ValidationError(
            f"{what} is a slug ({SLUG_HELP}); got {key!r}", field="key"
        )


def stage_of(spec: PipelineSpec, key: str) -> StageSpec:
    """The stage with `key`; ValidationError (field "stage") when there is none."""
    for stage in spec.stages:
        if stage.key == key:
            return stage
    raise ValidationError(f"the pipeline has no stage {key!r}", field="stage")


def add_stage(
    spec: PipelineSpec,
    key: str,
    name: str,
    *,
    buyer_action: str = "",
    owner: str = DEAL_OWNER,
    age_limit_days: int | None = None,
    probability: int = 0,
) -> PipelineSpec:
    """Append a stage. The key must be a new slug, not "lead", "won" or "lost";
    the name and the buyer action must hold something visible, and the
    age limit is required."""
    check_key(key, "a stage key")
    if key in RESERVED_STAGE_KEYS:
        raise ValidationError(f"{key!r} is reserved; choose another key", field="key")
    if key in spec.stage_keys():
        raise ValidationError(f"there is already a stage {key!r}", field="key")
    name = required_text(name, "name")
    _check_name_free(spec, name, key)
    buyer_action = _buyer_action(buyer_action)
    _check_age_limit(age_limit_days)
    stage = StageSpec(
        key=key,
        name=name,
        buyer_action=buyer_action,
        owner=owner,
        age_limit_days=age_limit_days,
        probability=probability,
    )
    return _ordered(replace(spec, stages=(*spec.stages, stage)))


def change_stage(spec: PipelineSpec, key: str, **values: Any) -> PipelineSpec:
    """Set fields of one stage (names from STAGE_FIELDS)."""
    unknown = set(values) - set(STAGE_FIELDS)
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]} cannot be set here")
    if "name" in values:
        values["name"] = required_text(values["name"], "name")
        _check_name_free(spec, values["name"], key)
    if "buyer_action" in values:
        values["buyer_action"] = _buyer_action(values["buyer_action"])
    if "age_limit_days" in values:
        _check_age_limit(values["age_limit_days"])
    return _with_stage(spec, replace(stage_of(spec, key), **values))


def _check_age_limit(limit: int | None) -> None:
    """Refuse (field "age_limit_days") a stage without an age limit, or one
    out of range. Every stage has one, so applying refuses a stage without:
    refused here, the person fixes it on the form that still holds what
    they typed, rather than at Apply."""
    if limit is None:
        raise ValidationError(
            "age_limit_days: say how many business days a deal may sit in this "
            f"stage before it is at risk (1 to {MAX_AGE_LIMIT_DAYS})",
            field="age_limit_days",
        )
    if not 1 <= limit <= MAX_AGE_LIMIT_DAYS:
        raise ValidationError(
            f"an age limit is 1 to {MAX_AGE_LIMIT_DAYS} business days",
            field="age_limit_days",
        )


def _buyer_action(text: str) -> str:
    """The buyer action typed, trimmed; refused (field "buyer_action") when
    it holds nothing visible. A stage is entered because the buyer did
    something, so applying refuses a stage without one: refused here, the
    person fixes it on the form that still holds what they typed."""
    return required_text(
        text,
        "buyer_action",
        missing=(
            "buyer_action: say what the buyer did to enter this stage, "
            'e.g. "The buyer asked for a proposal"'
        ),
    )


def _check_name_free(spec: PipelineSpec, name: str, key: str) -> None:
    """Refuse (field "name") a name another stage has once case and spacing
    are set aside: the board and the reports tell stages apart by name."""
    wanted = name_key(name)
    for stage in spec.stages:
        if stage.key != key and name_key(stage.name) == wanted:
            raise ValidationError(
                f"stage {stage.key!r} is already named {stage.name!r}; "
                "give this stage a name of its own",
                field="name",
            )


def move_stage(spec: PipelineSpec, key: str, offset: int) -> PipelineSpec:
    """Move a stage `offset` places later (negative: earlier), within bounds."""
    stages = list(spec.stages)
    index = spec.stage_keys().index(stage_of(spec, key).key)
    target = min(max(index + offset, 0), len(stages) - 1)
    stages.insert(target, stages.pop(index))
    return _ordered(replace(spec, stages=tuple(stages)))


def remove_stage(spec: PipelineSpec, key: str) -> PipelineSpec:
    """Drop a stage and the handoffs into and out of it. Where its deals go
    is asked when the draft is applied."""
    stage_of(spec, key)
    return replace(
        spec,
        stages=tuple(stage for stage in spec.stages if stage.key != key),
        handoffs=tuple(
            h for h in spec.handoffs if key not in (h.from_stage, h.to_stage)
        ),
    )


# --- criteria ----------------------------------------------------------------------


def add_criterion(
    spec: PipelineSpec, key: str, which: str, criterion: CriterionSpec
) -> PipelineSpec:
    """Add an entry or exit criterion; its label must be new, its rule compile
    and read only custom fields the pipeline defines."""
    items = _items(stage_of(spec, key), which)
    _check_criterion(spec, criterion, [item.label for item in items])
    return _with_criteria(spec, key, which, (*items, criterion))


def change_criterion(
    spec: PipelineSpec, key: str, which: str, index: int, criterion: CriterionSpec
) -> PipelineSpec:
    items = list(_items(stage_of(spec, key), which))
    _at(items, index)
    others = [item.label for n, item in enumerate(items) if n != index]
    _check_criterion(spec, criterion, others)
    items[index] = criterion
    return _with_criteria(spec, key, which, tuple(items))


def remove_criterion(
    spec: PipelineSpec, key: str, which: str, index: int
) -> PipelineSpec:
    items = list(_items(stage_of(spec, key), which))
    _at(items, index)
    del items[index]
    return _with_criteria(spec, key, which, tuple(items))


def _items(stage: StageSpec, which: str) -> tuple[CriterionSpec, ...]:
    if which not in (ENTRY, EXIT):
        raise ValidationError(f"criteria are {ENTRY} or {EXIT}, not {which!r}")
    return stage.entry_criteria if which == ENTRY else stage.exit_criteria


def _at(items: list[CriterionSpec], index: int) -> None:
    if not 0 <= index < len(items):
        raise ValidationError(f"there is no criterion number {index + 1}")


def _check_criterion(
    spec: PipelineSpec, criterion: CriterionSpec, labels: list[str]
) -> None:
    required_text(
        criterion.label, "label", missing="a criterion needs a label people read"
    )
    if len(criterion.label) > 300:
        raise ValidationError("a label is at most 300 characters", field="label")
    if criterion.label in labels:
        raise ValidationError(
            f"there is already a criterion labelled {criterion.label!r}",
            field="label",
        )
    fields = [custom.key for custom in spec.custom_fields]
    reason = criteria.check_rule(criterion.rule, fields)
    if reason is not None:
        raise ValidationError(f"the rule does not compile: {reason}", field="rule")
    # The deal page saves every item the rules name: a key a deal's checklist
    # refuses would refuse every save (the count is checked on apply).
    for key in items_in_rule(criterion.rule):
        try:
            check_checklist_key(key)
        except ValidationError as exc:
            raise ValidationError(exc.message, field="rule") from None


def _with_criteria(
    spec: PipelineSpec, key: str, which: str, items: tuple[CriterionSpec, ...]
) -> PipelineSpec:
    name = "entry_criteria" if which == ENTRY else "exit_criteria"
    return _with_stage(spec, replace(stage_of(spec, key), **{name: items}))


# --- handoffs and the pipeline ------------------------------------------------------


def set_handoffs(spec: PipelineSpec, handoffs: list[HandoffSpec]) -> PipelineSpec:
    """Replace every handoff. Each pair of ends may appear once; ends must be
    "lead" or stages of the spec."""
    keys = set(spec.stage_keys())
    seen = set()
    for handoff in handoffs:
        ends = (handoff.from_stage, handoff.to_stage)
        if handoff.to_stage not in keys or (
            handoff.from_stage != LEAD and handoff.from_stage not in keys
        ):
            raise ValidationError(
                f"a handoff {ends[0]} -> {ends[1]} joins no stages of this pipeline",
                field="handoffs",
            )
        if ends[0] == ends[1] or ends in seen:
            raise ValidationError(
                f"the handoff {ends[0]} -> {ends[1]} is given twice or joins a "
                "stage to itself",
                field="handoffs",
            )
        seen.add(ends)
    return _ordered(replace(spec, handoffs=tuple(handoffs)))


def change_pipeline(
    spec: PipelineSpec, *, timezone: str | None = None, **values: Any
) -> PipelineSpec:
    """Set top-level fields (PIPELINE_FIELDS) and the calendar's time zone."""
    unknown = set(values) - set(PIPELINE_FIELDS)
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]} cannot be set here")
    if "name" in values:
        values["name"] = required_text(values["name"], "name")
    spec = replace(spec, **values)
    if timezone is not None and timezone != spec.calendar.get("timezone"):
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"unknown time zone {timezone!r}; use one like Europe/Berlin",
                field="timezone",
            ) from None
        spec = replace(spec, calendar={**spec.calendar, "timezone": timezone})
    return spec


def day_of(spec: PipelineSpec) -> float:
    """Minutes in one working day of the spec's calendar: what "1d" means
    (8 hours when the calendar gives none)."""
    try:
        return day_minutes(spec.calendar) if spec.calendar else FALLBACK_DAY_MINUTES
    except (TypeError, ValueError, AttributeError):
        return FALLBACK_DAY_MINUTES


def _with_stage(spec: PipelineSpec, stage: StageSpec) -> PipelineSpec:
    stages = tuple(stage if s.key == stage.key else s for s in spec.stages)
    return replace(spec, stages=stages)


def _ordered(spec: PipelineSpec) -> PipelineSpec:
    order = {key: index for index, key in enumerate([LEAD, *spec.stage_keys()])}
    handoffs = sorted(
        spec.handoffs,
        key=lambda h: (order.get(h.from_stage, -1), order.get(h.to_stage, -1)),
    )
    return replace(spec, handoffs=tuple(handoffs))
