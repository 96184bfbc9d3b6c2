from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import (
    BeforeValidator,
    ConfigDict,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from dealgate.core.currencies import amount_in
from dealgate.core.numbers import AmbiguousNumber, decimals_as_written, read_number
from dealgate.deals import idempotency, services
from dealgate.deals.models import (
    TEXT_LIMITS,
    Activity,
    Deal,
    IdempotencyKey,
    StageEvent,
)
from dealgate.errors import NotFound, ValidationError
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.services import only_pipeline

from . import lists
from .fields import IsoDateOrNull, IsoDateTimeOrNull, JsonBoolOrNull, JsonInt
from .parser import JsonFloat

router = Router(tags=["deals"])
DEAL_RELATED = ("pipeline", "stage", "organization", "owner", "responsible")


def limited_text(limit: int, description: str = "") -> Any:
    """A text field whose length the service checks (its refusal names the
    field, as at every other door); the schema states the limit."""
    most = f"at most {limit:,} characters"
    return Field(
        "",
        description=f"{description}; {most}" if description else most,
        json_schema_extra={"maxLength": limit},
    )


def _typed_number(value: Any) -> Any:
    """A JSON number written with an exponent ("1e3"), NaN or Infinity,
    refused as the same text typed in a string is (`read_number`); anything
    else as it came."""
    if not isinstance(value, float):
        return value
    written = value.written if isinstance(value, JsonFloat) else repr(value)
    if "e" in written.lower() or not math.isfinite(value):
        try:
            read_number(written)
        except ValueError as exc:
            raise PydanticCustomError(
                "number", "{message}", {"message": str(exc)}
            ) from None
    return value


class Undecided(Decimal):
    """Text like "1.250" in a string value, read as written until the
    amount's currency is known (`in_currency`): as written in a currency
    with three decimals (KWD), else refused with `refusal`."""

    refusal: str = ""


def _amount(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """An amount as the deals API reads it: text by the rule every door
    reads typed numbers with ("1,250.50" yes; "1_000", "1e3" and "12,50"
    refused, saying how to write them), a JSON number as written ("0.1" is
    exactly 0.1), an exponent, NaN or Infinity refused as in text. Text like
    "1.250" waits for its currency (`Undecided`)."""
    if isinstance(value, bool):
        shown = "true" if value else "false"
        raise PydanticCustomError(
            "number", "{message}", {"message": f"{shown} is not a number"}
        )
    if isinstance(value, str):
        try:
            return handler(read_number(value, places=2))
        except AmbiguousNumber as exc:
            undecided = Undecided(value.strip())
            undecided.refusal = str(exc)
            return undecided
        except ValueError as exc:
            raise PydanticCustomError(
                "number", "{message}", {"message": str(exc)}
            ) from None
    value = _typed_number(value)
    if isinstance(value, JsonFloat):
        return handler(Decimal(value.written))
    return handler(value)


def in_currency(fields: dict[str, Any], currency: str | None) -> None:
    """Settle a value `_amount` left `Undecided` in `fields` now that its
    `currency` is known: "1.234" in KWD is 1.234, for the decimals rule to
    judge; in any other currency the text is refused as ambiguous, naming
    the value."""
    value = fields.get("value")
    if not isinstance(value, Undecided):
        return
    if not decimals_as_written(currency):
        # Worded as the schema words a value it cannot read.
        raise ValidationError(f"value: {value.refusal}", field="value")
    fields["value"] = Decimal(value)


Amount = Annotated[
    Decimal | None,
    WrapValidator(_amount),
    Field(
        description="a JSON number, or text written as the deal page takes it "
        '("1,250.50"); no exponent. At most 2 decimals, and no more than the '
        "currency has (none for JPY)"
    ),
]
# A custom field's value: the pipeline's field type checks it (text for a
# number field is read as `Amount` text is); only exponents are refused here.
CustomValue = Annotated[Any, BeforeValidator(_typed_number)]


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None
    unmet: list[str] | None = None


class StageEventOut(Schema):
    id: int = Field(
        description="the event's id: with `at`, its place in the history "
        "(`after=TIME,ID`, its `at` and id, answers the events after it)"
    )
    from_stage: str | None
    to_stage: str | None
    from_status: str | None = Field(
        description="the deal's status before the event (null for its first); "
        "the same won or lost status before and after is a redesign moving a "
        "closed deal between stages, not a second win or loss"
    )
    to_status: str
    at: dt.datetime
    by: str | None
    override_reason: str = Field(
        description="why a manager moved the deal past unmet criteria, or why a "
        'pipeline\'s redesign moved it; "" when the move needed none'
    )


class DealOut(Schema):
    id: int
    title: str
    pipeline: str
    stage: str
    status: str
    organization: str | None
    owner: str | None
    value: Decimal | None = Field(
        description="written with the currency's decimals, at most 2: "
        'JPY "1000", USD "1000.00", KWD "1.23"'
    )
    currency: str
    stage_entered_at: dt.datetime | None
    closed_at: dt.datetime | None
    loss_reason: str
    loss_note: str = Field(
        description="why the deal was lost, in words: what a pipeline without "
        "loss reasons keeps in place of a reason, or the note a reason asks for; "
        '"" when none was written'
    )
    # Defaults: an Idempotency-Key's stored answer from before these fields
    # were answered is replayed without them (deals.idempotency).
    responsible: str | None = Field(
        None,
        description="the username of who answers for the deal in its stage "
        "now (the stage's owner kind says who: the deal's owner, or another "
        "person); null when nobody is",
    )
    expected_close_date: dt.date | None = None
    notes: str = ""
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description="the pipeline's custom fields the deal holds, as PATCH "
        "takes them; gates read them",
    )
    checklist: dict[str, bool] = Field(
        default_factory=dict,
        description="the checklist items, true when done; gates read them",
    )
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = Field(
        None,
        description="when the deal last changed: a move, an edit, a new owner "
        "or person responsible, an import; what updated_since filters by",
    )
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
        value=None if deal.value is None else amount_in(deal.value, deal.currency),
        currency=deal.currency,
        stage_entered_at=deal.stage_entered_at,
        closed_at=deal.closed_at,
        loss_reason=deal.loss_reason,
        loss_note=deal.loss_note,
        responsible=deal.responsible.username if deal.responsible else None,
        expected_close_date=deal.expected_close_date,
        notes=deal.notes,
        custom=deal.custom,
        checklist=deal.checklist,
        created_at=deal.created_at,
        updated_at=deal.updated_at,
        version=deal.version,
    )


def readable_deals() -> QuerySet[Deal]:
    """The deals a read answers, with what `deal_out` shows of them: one
    query. Everyone the deals endpoints let in reads every deal (README,
    "Who may do what"), one or a list alike."""
    return Deal.objects.select_related(*DEAL_RELATED)


class DealPage(Schema):
    items: list[DealOut]
    next: str | None = Field(
        description="the address of the next page, the same filters kept; null "
        "on the last"
    )


@router.get("", response={200: DealPage, 422: ErrorOut})
def list_deals(
    request: HttpRequest,
    pipeline: str | None = Query(None, description="a pipeline's key"),
    stage: str | None = Query(
        None, description="a stage's key; a closed deal is in the stage it closed from"
    ),
    status: Literal["open", "won", "lost"] | None = Query(None),
    owner: str | None = lists.OWNER,
    created_since: lists.Instant = lists.CREATED_SINCE,
    updated_since: lists.Instant = lists.UPDATED_SINCE,
    limit: int = lists.LIMIT,
    after: int = lists.AFTER,
) -> DealPage:
    """The deals, oldest first, a page at a time: `limit` at most (50 unless
    asked, 200 at most) and the address of the `next` page. Each filter
    given narrows the list; one naming no pipeline, stage or user is a 422
    naming it (`owner=(none)`: the deals no one owns). Deals imported
    without a creation time are left out by `created_since`. With
    `updated_since`, the deals changed since, in the order they changed, for
    a sync that pages on while deals change."""
    deals = readable_deals()
    if pipeline is not None:
        deals = deals.filter(pipeline=lists.pipeline_named(pipeline))
    if stage is not None:
        deals = deals.filter(stage__in=_stages_named(stage, pipeline))
    if status is not None:
        deals = deals.filter(status=status)
    if owner is not None:
        deals = deals.filter(lists.owned_by(owner))
    if created_since is not None:
        deals = deals.filter(created_at__gte=created_since)
    rows, following = lists.page_of(
        request, deals, limit=limit, after=after, updated_since=updated_since
    )
    return DealPage(items=[deal_out(deal) for deal in rows], next=following)


def _stages_named(key: str, pipeline: str | None) -> list[int]:
    """The ids of the stages `key` (of `pipeline`, when given), retired ones
    too; refused naming `stage` when there is none."""
    stages = Stage.objects.filter(key=key)
    if pipeline is not None:
        stages = stages.filter(pipeline__key=pipeline)
    ids = list(stages.values_list("pk", flat=True))
    if not ids:
        where = f"pipeline {pipeline!r}" if pipeline is not None else "any pipeline"
        raise ValidationError(f"stage: {where} has no stage {key!r}", field="stage")
    return ids


@router.get("/{int:deal_id}", response=DealOut)
def get_deal(request: HttpRequest, deal_id: int) -> DealOut:
    deal = readable_deals().filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(f"no deal with id {deal_id}")
    return deal_out(deal)


@router.get(
    "/{int:deal_id}/history",
    response={200: list[StageEventOut], 404: ErrorOut, 422: ErrorOut},
)
def get_deal_history(
    request: HttpRequest,
    deal_id: int,
    response: HttpResponse,
    limit: int = lists.LIMIT,
    after: str | None = lists.PLACE,
) -> list[StageEventOut]:
    """The deal's stage events in the order they happened (by `at`, then
    id), a page at a time: `limit` at most (50 unless asked, 200 at most).
    The answer is the list of events, as before there were pages; when more
    follow, a `Link` header gives the next page's address (`rel="next"`),
    its `after` the last event's time and id, so an event recorded while a
    client pages through comes on a later page and none repeats."""
    place = lists.place_named(after, "the deal's history")
    if not Deal.objects.filter(pk=deal_id).exists():
        raise NotFound(f"no deal with id {deal_id}")
    events = StageEvent.objects.filter(deal_id=deal_id).select_related(
        "from_stage", "to_stage", "by"
    )
    rows, following = lists.page_in_order(
        request, events, field="at", limit=limit, after=place
    )
    if following is not None:
        response["Link"] = f'<{following}>; rel="next"'
    return [
        StageEventOut(
            id=e.pk,
            from_stage=e.from_stage.key if e.from_stage else None,
            to_stage=e.to_stage.key if e.to_stage else None,
            from_status=e.from_status or None,
            to_status=e.to_status,
            at=e.at,
            by=e.by.username if e.by else None,
            override_reason=e.override_reason,
        )
        for e in rows
    ]


class MoveIn(Schema):
    """A move; any other key is refused (422), and so is a field this move
    does not use (a loss reason with a move to a stage)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description='a stage key of the pipeline, "won" or "lost"')
    version: JsonInt = Field(description="the version you read; a newer one is a 409")
    loss_reason: str = Field(
        "",
        description="for lost only: a loss reason's key or label; the key is "
        "stored. With another move, refused (422)",
    )
    loss_note: str = limited_text(
        TEXT_LIMITS["loss_note"], "for lost only: why the deal was lost"
    )
    override_reason: str = limited_text(
        TEXT_LIMITS["override_reason"],
        "a manager's reason to move despite unmet criteria, recorded in the "
        "deal's history; refused (422) with a loss or a move that meets its "
        "criteria, and from a rep (403)",
    )


class DealVersion(Schema):
    model_config = ConfigDict(extra="forbid")

    id: JsonInt
    version: JsonInt


class BulkMoveIn(Schema):
    """A move of several deals; any other key is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    # No maxItems: the limit is on distinct deals, and a deal sent twice with
    # the same version counts once, so a longer list may be taken.
    deals: list[DealVersion] = Field(
        description="the deals with the version you read of each; at most "
        f"{services.MOST_DEALS_PER_BULK_MOVE:,} distinct deals, so that the move "
        "ends well within the server's request timeout (a deal sent again with "
        "the same version counts once; with another version it is refused)",
        min_length=1,
    )
    to: str = Field(description='a stage key of the pipeline, "won" or "lost"')
    loss_reason: str = Field(
        "",
        description="for lost only: a loss reason's key or label; the key is "
        "stored. With another move, refused (422)",
    )
    loss_note: str = limited_text(
        TEXT_LIMITS["loss_note"], "for lost only: why the deals were lost"
    )
    override_reason: str = limited_text(
        TEXT_LIMITS["override_reason"],
        "a manager's reason to move despite unmet criteria, recorded in the "
        "history of each deal whose criteria were unmet (the others need none); "
        "refused (422) with a loss, and from a rep (403)",
    )


class BulkErrorOut(ErrorOut):
    refusals: dict[str, str]


class DealPatch(Schema):
    """The fields an edit may change; any other key is refused (422), so a
    client never believes it changed a stage or a status it cannot set here."""

    model_config = ConfigDict(extra="forbid")

    version: JsonInt
    title: str | None = None
    value: Amount = None
    currency: str | None = None
    expected_close_date: IsoDateOrNull = None
    notes: str | None = Field(
        None,
        description=f"at most {TEXT_LIMITS['notes']:,} characters",
        json_schema_extra={"maxLength": TEXT_LIMITS["notes"]},
    )
    custom: dict[str, CustomValue] | None = Field(
        None,
        description="the custom fields to change; the others stay, null removes one",
    )
    checklist: dict[str, JsonBoolOrNull] | None = Field(
        None,
        description="the checklist items to change, true when done; the others "
        "stay, null removes one. A new item's key is one line of at most "
        f"{services.CHECKLIST_KEY_LIMIT} characters; a deal holds at most "
        f"{services.MOST_CHECKLIST_ITEMS} items",
        json_schema_extra={
            "maxProperties": services.MOST_CHECKLIST_ITEMS,
            "propertyNames": {"maxLength": services.CHECKLIST_KEY_LIMIT},
        },
    )
    owner: str | None = Field(
        None, description="the new owner's username; null leaves the deal unowned"
    )
    organization: str | None = Field(
        None,
        description="the organization's name, created if new; null for none",
    )
    reason: str | None = Field(
        None,
        description="why a closed deal is corrected: needed to change a won or "
        "lost deal's value, currency, expected_close_date, owner or "
        "organization (a manager for their teams' deals, or an admin), and kept "
        "with the record of the edit in its activities; refused on an open deal",
        json_schema_extra={"maxLength": TEXT_LIMITS["reason"]},
    )


@router.post(
    "/{int:deal_id}/move",
    response={200: DealOut, 409: ErrorOut, 422: ErrorOut, 403: ErrorOut},
)
def move(request: HttpRequest, deal_id: int, payload: MoveIn) -> DealOut:
    """Move a deal to another stage, or win or lose it, through its gates."""
    _refuse_unused(request, payload)
    deal = services.move_deal(
        deal_id,
        payload.to,
        by=request.user,
        expected_version=payload.version,
        loss_reason=payload.loss_reason,
        loss_note=payload.loss_note,
        override_reason=payload.override_reason,
        source="api",
        refuse_unneeded_override=True,
    )
    return deal_out(deal)


def _refuse_unused(request: HttpRequest, payload: MoveIn | BulkMoveIn) -> None:
    """Refuse a field the move would not use, naming it, before any deal is
    read (`services.refuse_unused_move_fields`)."""
    services.refuse_unused_move_fields(
        payload.to,
        by=request.user,
        loss_reason=payload.loss_reason,
        loss_note=payload.loss_note,
        override_reason=payload.override_reason,
    )


@router.post("/bulk-move", response={200: list[DealOut], 422: BulkErrorOut})
def bulk_move(request: HttpRequest, payload: BulkMoveIn) -> list[DealOut]:
    """Move several deals through their gates, all or nothing: if one is
    refused, none moves and `refusals` says why for each. `deals` holds a
    limited number (its schema says how many; more is a 422 naming it): send
    a larger set in parts."""
    _refuse_unused(request, payload)
    versions = _distinct_versions(payload.deals)
    deals = services.move_deals(
        versions,
        payload.to,
        by=request.user,
        loss_reason=payload.loss_reason,
        loss_note=payload.loss_note,
        override_reason=payload.override_reason,
        source="api-bulk",
    )
    return [deal_out(deal) for deal in deals]


def _distinct_versions(items: list[DealVersion]) -> dict[int, int]:
    """Deal id -> the version sent, each deal once, refused (422, naming
    `deals`) when there are more distinct deals than a bulk move takes, or a
    deal comes with two versions: one of them was not what the caller read."""
    versions: dict[int, int] = {}
    for item in items:
        sent = versions.setdefault(item.id, item.version)
        if sent != item.version:
            raise ValidationError(
                f"deals: deal {item.id} is sent with versions {sent} and "
                f"{item.version}; send each deal once, with the version you read",
                field="deals",
            )
    most = services.MOST_DEALS_PER_BULK_MOVE
    if len(versions) > most:
        repeats = len(items) - len(versions)
        listed = f" ({len(items):,} ids with {repeats:,} repeats)" if repeats else ""
        raise ValidationError(
            f"deals: a bulk move takes at most {most:,} deals, this one has "
            f"{len(versions):,} distinct deals{listed}; send them in several moves",
            field="deals",
        )
    return versions


@router.patch("/{int:deal_id}", response={200: DealOut, 409: ErrorOut, 422: ErrorOut})
def edit(request: HttpRequest, deal_id: int, payload: DealPatch) -> DealOut:
    """Change a deal's fields; `version` guards against overwriting a newer
    edit. `custom` and `checklist` change only the keys sent. A closed deal
    keeps what it closed with: its value, currency, expected_close_date,
    owner and organization are corrected only by a manager or an admin,
    with a `reason`, and every edit of it is recorded in its activities."""
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version")
    reason = changes.pop("reason", None) or ""
    if isinstance(changes.get("value"), Undecided):
        stored = Deal.objects.filter(pk=deal_id).values_list("currency", flat=True)
        in_currency(changes, changes.get("currency") or stored.first())
    deal = services.update_deal(
        deal_id,
        changes,
        by=request.user,
        expected_version=version,
        merge=frozenset({"custom", "checklist"}),
        reason=reason,
    )
    return deal_out(readable_deals().get(pk=deal.pk))


class DealActivityIn(Schema):
    """An activity on a deal; any other key is refused (422), so a field the
    API does not keep (a body) is never silently lost."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="call, email, meeting, note or task")
    subject: str
    tag: str = Field("", description="what criteria look for, e.g. proposal-sent")
    due_at: IsoDateTimeOrNull = Field(None, description="a task's due time")


# Every kind a deal's activities hold (`Activity.Kind`): those a person
# logs, and `system`, a record Dealgate wrote (a pipeline's redesign). What
# the list answers and what its `kind` filter takes, alike.
ActivityKind = Literal["call", "email", "meeting", "note", "task", "system"]


ACTIVITY_KIND = Query(None, description="only the activities of this kind")


class ActivityOut(Schema):
    id: int
    deal: int
    kind: ActivityKind
    subject: str
    tag: str
    done: bool
    due_at: dt.datetime | None
    at: dt.datetime
    by: str | None
    done_at: dt.datetime | None = Field(None, description="when it was done")
    done_by: str | None = Field(None, description="who marked it done")
    detail: dict[str, Any] | None = Field(
        None,
        description="a system record's whole account, null when it has none: "
        "for an edit of a closed deal, `edit` (each field changed, with its old "
        "and new value), `reason` and `by` (a username)",
    )


@router.post(
    "/{int:deal_id}/activities",
    response={201: ActivityOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def log_activity(request: HttpRequest, deal_id: int, payload: DealActivityIn) -> Status:
    """Log a call, email, meeting or note that just happened (done at once),
    or a task due at `due_at`. Criteria read kind and tag; a done call,
    email or meeting meets the deal's response window."""
    activity = services.log_activity(
        deal_id,
        kind=payload.kind,
        subject=payload.subject,
        tag=payload.tag,
        due_at=payload.due_at,
        by=request.user,
    )
    return Status(201, _activity_out(activity))


def _activity_out(activity: Activity) -> ActivityOut:
    return ActivityOut(
        id=activity.pk,
        deal=activity.deal_id,
        kind=activity.kind,
        subject=activity.subject,
        tag=activity.tag,
        done=activity.done,
        due_at=activity.due_at,
        at=activity.at,
        by=activity.by.username if activity.by else None,
        done_at=activity.done_at,
        done_by=activity.done_by.username if activity.done_by else None,
        detail=activity.detail,
    )


class ActivityPage(Schema):
    items: list[ActivityOut]
    next: str | None = Field(
        description="the address of the next page, the same filters kept; null "
        "on the last"
    )


@router.get(
    "/{int:deal_id}/activities",
    response={200: ActivityPage, 404: ErrorOut, 422: ErrorOut},
)
def list_activities(
    request: HttpRequest,
    deal_id: int,
    kind: ActivityKind | None = ACTIVITY_KIND,
    done: bool | None = Query(
        None, description="true or false; kind=task&done=false are its open tasks"
    ),
    limit: int = lists.LIMIT,
    after: int = lists.AFTER,
) -> ActivityPage:
    """The deal's activities and tasks, oldest first, a page at a time as
    the deals' list is; `?kind=task&done=false` lists its open tasks, whose
    ids `/tasks/ID/done` takes."""
    if not readable_deals().filter(pk=deal_id).exists():
        raise NotFound(f"no deal with id {deal_id}")
    activities = Activity.objects.filter(deal_id=deal_id).select_related(
        "by", "done_by"
    )
    if kind is not None:
        activities = activities.filter(kind=kind)
    if done is not None:
        activities = activities.filter(done=done)
    rows, following = lists.page_of(request, activities, limit=limit, after=after)
    return ActivityPage(items=[_activity_out(a) for a in rows], next=following)


@router.post(
    "/{int:deal_id}/tasks/{int:task_id}/done",
    response={
        200: ActivityOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def complete_task(request: HttpRequest, deal_id: int, task_id: int) -> ActivityOut:
    """Mark an open task of the deal done; its next-step clock is met. With
    the deal's version as an `If-Match` header, a deal changed since is a
    409 and the task stays open; a task done already is a 409 saying who
    did it."""
    task = services.complete_task(
        deal_id, task_id, by=request.user, expected_version=_if_match(request)
    )
    return _activity_out(task)


def _if_match(request: HttpRequest) -> int | None:
    """The deal's version an If-Match header sends (quoted or not, a W/ and
    "*" taken as none); None without one: the deal is taken as it is."""
    sent = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if sent in ("", "*"):
        return None
    if not (sent.isascii() and sent.isdigit() and len(sent) <= 18):
        raise ValidationError(
            f"If-Match: {sent[:30]!r} is not a deal's version; send the version "
            "you read (a whole number), or none",
            field="version",
        )
    return int(sent)


class DealIn(Schema):
    """A deal made by hand; any other key is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    pipeline: str | None = Field(
        None, description="the pipeline's key; the only pipeline by default"
    )
    title: str
    stage: str = Field(
        "", description="an open stage's key; the pipeline's first by default"
    )
    owner: str | None = Field(
        None, description="a username; you by default (a rep creates only their own)"
    )
    organization: str | None = Field(
        None, description="the organization's name, created if new"
    )
    value: Amount = None
    currency: str | None = Field(
        None, description="an ISO 4217 code, any case; the pipeline's by default"
    )
    expected_close_date: IsoDateOrNull = None
    notes: str | None = Field(
        None,
        description=f"at most {TEXT_LIMITS['notes']:,} characters; null for none",
        json_schema_extra={"maxLength": TEXT_LIMITS["notes"]},
    )
    custom: dict[str, CustomValue] | None = Field(
        None, description="the pipeline's custom fields"
    )


IDEMPOTENCY_KEY = "Idempotency-Key"


def _pipeline_for_new_deal(key: str | None) -> Pipeline:
    """The pipeline `key` names, or the only one there is when it names none,
    as a lead's capture finds it."""
    if key is None:
        return only_pipeline("in the pipeline field")
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        raise ValidationError(
            f"pipeline: there is no pipeline {key!r}", field="pipeline"
        )
    return pipeline


@router.post("", response={201: DealOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create(
    request: HttpRequest,
    payload: DealIn,
    response: HttpResponse,
    idempotency_key: str | None = Header(
        None,
        alias=IDEMPOTENCY_KEY,
        description="a key of your choosing (a UUID), 1 to 255 visible ASCII "
        "characters: sent again with the same body within "
        f"{idempotency.KEY_LIFETIME.total_seconds() / 3600:.0f} hours, the "
        "request makes no second deal and gets the first answer again "
        "(with Idempotent-Replayed: true); with another body it is a 422 "
        "naming this header",
    ),
) -> Status:
    """Create a deal in the pipeline's first open stage, or in `stage`,
    through the gates a move into that stage passes (422 with `unmet`).
    Send an `Idempotency-Key` to retry safely."""
    pipeline = _pipeline_for_new_deal(payload.pipeline)
    fields = payload.dict(exclude_unset=True, exclude={"pipeline", "stage"})
    in_currency(fields, fields.get("currency") or pipeline.currency)
    if idempotency_key is None:
        deal = services.create_deal(
            pipeline, fields, by=request.user, stage=payload.stage, source="api"
        )
        return Status(201, _created_out(deal))
    created = idempotency.create_deal_once(
        pipeline,
        fields,
        by=request.user,
        door=IdempotencyKey.Door.API,
        key=idempotency_key,
        request=idempotency.fingerprint(
            payload.model_dump(mode="json", exclude_unset=True)
        ),
        field=IDEMPOTENCY_KEY,
        stage=payload.stage,
        source="api",
        answer=lambda deal: _created_out(deal).model_dump(mode="json"),
    )
    if created.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, created.answer)


def _created_out(deal: Deal) -> DealOut:
    return deal_out(readable_deals().get(pk=deal.pk))
