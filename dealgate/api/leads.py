"""Leads in the REST API: capture with a per-user token, read, answer, close.

`POST /api/v1/leads` takes `Authorization: Bearer <token>` (see `dealgate
token create`) or a signed-in session. Its body is read here rather than by
the schema, so every refusal comes from the one error family: 422 naming
the field, `body` for a body that is too large or not a JSON object.

While SQLite is busy with another writer (a long import), a lead that
passed every check is kept in the spool and answered 202 with its receipt;
the sweeper captures it once the database is free (dealgate.leads.spool).

Authentication is the whole API's (dealgate.api.auth): a token, else a
signed-in session with its CSRF token. A token of any scope captures; the
other endpoints need the scope `leads`. A capture-only token (scope
`capture`, the default for a new token) may sit in a web page anyone can
read, so its capture is answered the same whatever became of the lead (a
new one, or attached to a lead or deal already there): 202, `received`,
and nothing of any lead, which would tell whoever holds the token what
those leads hold, or that a given address has written before.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from pydantic import BaseModel, ConfigDict

from dealgate import timesource
from dealgate.core.text import counted
from dealgate.errors import DealgateError, NotFound, ValidationError
from dealgate.leads import formhits, services, spool
from dealgate.leads.edits import edit_lead
from dealgate.leads.intake import LIMITS, check_json_types
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.offers import Offer, may_have_offers, pending_offers
from dealgate.leads.versions import lead_version
from dealgate.pipelines.models import Pipeline
from dealgate.web.bodies import limit_body
from dealgate.web.client import address_key, client_address

from . import lists
from .auth import CAPTURE_AUTH, DEALS_AUTH, token_id, token_pipeline, token_scope
from .deals import ErrorOut, limited_text
from .fields import JsonBool
from .parser import read_json, reads_own_body

router = Router(tags=["leads"])

# A lead's fields fit in a few kilobytes; the message (5,000 characters at
# up to 4 bytes each in JSON escapes of 6) is the largest part.
MAX_BODY_BYTES = 64 * 1024
# Refused on its Content-Length before a worker waits for it.
limit_body("api/v1/leads", MAX_BODY_BYTES)
limit_body("api/v1/leads/<lead_id>", MAX_BODY_BYTES)


class LeadIn(Schema):
    """A lead as a website or another system sends it. An email or a phone
    is required; everything else is optional; any other key is refused."""

    # Published only: the capture reads the body itself (`clean_lead`),
    # refusing what is not a lead field, as this says.
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=LIMITS["name"])
    email: str | None = Field(None, max_length=LIMITS["email"])
    phone: str | None = Field(
        None, description="any format; read in the pipeline's country unless +..."
    )
    company: str | None = None
    website: str | None = None
    country: str | None = Field(None, description="ISO 3166 code, e.g. DE")
    segment: str | None = None
    company_size: int | str | None = Field(
        None,
        description="people at the company: a JSON integer, or text as a "
        'website\'s visitor typed it ("1,200")',
    )
    value: Decimal | str | None = Field(
        None,
        description="the deal size the lead hints at: a JSON number, or text "
        'as typed ("1,250.50")',
    )
    currency: str | None = None
    message: str | None = Field(None, max_length=LIMITS["message"])
    source: str | None = Field(None, description="what routing rules test as source")
    external_id: str | None = Field(
        None, description="your id for the lead; sending it again finds the first"
    )
    pipeline: str | None = Field(None, description="pipeline key; needed if several")


# The answers are plain pydantic models: django-ninja's Schema checks a dict
# field by field through a getter written in Python, which cost a capture
# about 0.4 ms for a lead of 27 fields. (A docstring here would show in the
# OpenAPI schema.)
class OfferOut(BaseModel):
    inquiry: int = Field(description="the repeat inquiry's activity id")
    at: dt.datetime = Field(description="when it came in")
    channel: str = Field(description="how it came in: form, api, import, web")
    values: dict[str, str | int] = Field(
        description="what it offers for the lead's empty fields, as PATCH "
        "takes it (a phone with its country code); nothing is written until "
        "someone sends them in a PATCH"
    )


class _LeadFields(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pipeline: str
    status: str
    name: str
    email: str
    phone: str
    phone_e164: str
    company: str
    website: str
    domain: str
    country: str
    segment: str
    company_size: int | None
    value: Decimal | None
    currency: str
    message: str
    source: str
    channel: str
    owner: str | None
    rule: str
    routing_reason: str
    created_at: dt.datetime
    assigned_at: dt.datetime | None
    response_due_at: dt.datetime | None
    first_response_at: dt.datetime | None
    response_business_minutes: float | None
    deal: int | None
    disqualify_reason: str
    updated_at: dt.datetime | None = Field(
        None,
        description="when the lead last changed: an edit, an assignment, an "
        "answer, a conversion, a merge; what updated_since filters by",
    )
    version: str = Field(
        description="the version of the fields PATCH changes; send it back with "
        "an edit, which is refused (409) once they changed since"
    )


class LeadOut(_LeadFields):
    offers: list[OfferOut] = Field(
        default=[],
        description="values repeat inquiries offer for the open lead's empty "
        "fields, oldest first. An inquiry is anonymous, so they are never "
        "written into the lead: PATCH the ones you have checked. An offer of a "
        "field ends once the field is filled or edited",
    )


class LeadListed(_LeadFields):
    has_offers: bool = Field(
        description="whether repeat inquiries offer values for the open lead's "
        "empty fields: GET the lead for them"
    )


class LeadPage(BaseModel):
    items: list[LeadListed]
    next: str | None = Field(
        description="the address of the next page, the same filters kept; null "
        "on the last"
    )


class LeadPatch(BaseModel):
    """The fields of a lead to change, with the version you read; any other
    key is refused (422). A field sent as null or "" is emptied."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="the lead's version, as GET answered it")
    name: str | None = Field(None, max_length=LIMITS["name"])
    email: str | None = Field(None, max_length=LIMITS["email"])
    phone: str | None = Field(
        None,
        description=(
            "any format; read in the lead's country (as edited), else the "
            "pipeline's region, unless +... A stored number is read again only "
            "when this changes it: a new country alone keeps its phone_e164"
        ),
    )
    company: str | None = None
    website: str | None = None
    country: str | None = Field(None, description="ISO 3166 code, e.g. DE")
    segment: str | None = None
    company_size: int | None = Field(
        None, description='people at the company, a JSON integer ("3" is refused)'
    )
    value: Decimal | str | None = Field(
        None,
        description="the deal size the lead hints at: a JSON number, or text "
        'as typed ("1,250.50")',
    )
    currency: str | None = None


class CaptureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    outcome: str = Field(description="created, attached or known")
    reason: str
    lead: LeadOut | None = None
    attached_to_lead: int | None = None
    attached_to_deal: int | None = None
    decision: int | None = Field(None, description="de-duplication decision id")


class ReceivedOut(BaseModel):
    outcome: str = Field(description="received")
    reason: str


class QueuedOut(BaseModel):
    outcome: str = Field(description="queued")
    reason: str
    receipt: str = Field(description="names the inquiry in the server's log")
    received_at: dt.datetime = Field(
        description="when the response window starts, if the lead gets an owner"
    )


class LeadActivityIn(Schema):
    """An activity on a lead; any other key is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="call, email, meeting or note")
    subject: str = limited_text(services.MAX_SUBJECT, "one line")
    body: str = limited_text(services.MAX_BODY)
    outbound: JsonBool = True


class DisqualifyIn(Schema):
    """Why the lead is not worth pursuing; any other key is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        description=f"one line; at most {services.MAX_REASON:,} characters",
        json_schema_extra={"maxLength": services.MAX_REASON},
    )
    version: str | None = Field(
        None,
        description="the lead's version as you read it (or send it as If-Match); "
        "a lead changed since is a 409 naming what changed. Without one the "
        "lead is taken as it is",
    )


# Endpoints answer plain dicts that django-ninja checks against the response
# schema once: a schema instance built here would be checked again there (its
# nested lead three times), half a millisecond of CPU for every capture.
_LEAD_COLUMNS = [
    name
    for name in LeadOut.model_fields
    if name not in ("id", "pipeline", "owner", "deal", "version", "offers")
]


def lead_out(lead: Lead, *, offers: bool = True) -> dict[str, Any]:
    """`lead` as LeadOut's fields; with `offers` (one query more on an open
    lead, unless it was read with `has_offers` false), what repeat inquiries
    offer it. A lead just made has none."""
    out = {name: getattr(lead, name) for name in _LEAD_COLUMNS}
    out["id"] = lead.pk
    out["pipeline"] = lead.pipeline.key
    out["owner"] = lead.owner.username if lead.owner else None
    out["deal"] = lead.deal_id
    out["version"] = lead_version(lead)
    if offers and getattr(lead, "has_offers", True):
        out["offers"] = [_offer_out(o) for o in pending_offers(lead)]
    else:
        out["offers"] = []
    return out


def _offer_out(offer: Offer) -> dict[str, Any]:
    values = {
        name: str(value) if isinstance(value, Decimal) else value
        for name, value in offer.values.items()
    }
    return {
        "inquiry": offer.inquiry,
        "at": offer.at,
        "channel": offer.channel,
        "values": values,
    }


def _capture_out(result: services.CaptureResult) -> dict[str, Any]:
    decision = result.decision
    if result.created:
        outcome = "created"
    elif decision is not None:
        outcome = "attached"
    else:
        outcome = "known"
    lead = result.lead if outcome != "attached" else None
    return {
        "outcome": outcome,
        "reason": result.reason,
        "lead": lead_out(lead, offers=not result.created) if lead else None,
        "attached_to_lead": decision.lead_id if decision else None,
        "attached_to_deal": decision.deal_id if decision else None,
        "decision": decision.pk if decision else None,
    }


def _queued_out(kept: spool.Kept) -> dict[str, Any]:
    return {
        "outcome": "queued",
        "reason": (
            "the database is busy with another write, such as an import; the "
            "lead is kept and will be captured once it is free, as received at "
            "received_at"
        ),
        "receipt": kept.receipt,
        "received_at": kept.received_at,
    }


# What a capture-only token is told of every lead it sends.
_RECEIVED = {
    "outcome": "received",
    "reason": (
        "the lead is received; a token with the scope 'capture' is told no "
        "more of it (one with the scope 'leads' is)"
    ),
}


def _json_body(request: HttpRequest, *, typed: bool = True) -> dict[str, Any]:
    """The body as a JSON object; with `typed`, its lead fields have their
    schema's types (`intake.check_json_types`: `{"name": 5}` is refused, not
    kept as "5"), a size as text taken as a form's (a capture)."""
    data = read_json(request, limit=MAX_BODY_BYTES)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    if typed:
        check_json_types(data, size_as_text=True)
    return data


@router.post(
    "",
    auth=CAPTURE_AUTH,
    response={
        201: CaptureOut,
        200: CaptureOut,
        202: ReceivedOut | QueuedOut,
        404: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LeadIn.model_json_schema()}},
        }
    },
)
@reads_own_body
def create_lead(request: HttpRequest) -> Status[dict[str, Any]] | HttpResponseBase:
    """Capture a lead: 201 with the new lead and why it went to its owner;
    200 when it repeats an open lead or deal (attached there) or an
    external_id already captured with the same content (422 naming
    external_id for another inquiry under it); 202 when the database is busy with an
    import: the lead is kept and captured, as received now, once it is free.
    A token with the scope `capture` is answered 202 `received` for any of
    the first three, with nothing of the lead: where there is a spool, the
    lead is kept there and answered before it is compared with any lead
    (`spool.keep_to_answer_first`), so that neither the answer nor the time
    it takes tells whether it repeats one. A `capture` token sits in a
    website's page, where anyone may copy it: what it sends is held to the
    web form's limit per client address (429 with Retry-After); a `leads`
    token (an integrator's server) is not limited."""
    # A website hands on what its visitor typed: a size as text, as the form's.
    data = _json_body(request)
    _bound_pipeline(request, data)
    pipeline = _capture_pipeline(request, data)
    if token_scope(request) == ApiToken.Scope.CAPTURE:
        return _capture_anonymously(request, data, pipeline)
    # Told what became of it, the caller can be refused another inquiry
    # under an external_id already used; a capture token's sender cannot.
    result = spool.capture_or_keep(
        data,
        source="api",
        by=request.auth,
        pipeline=pipeline,
        reused_id=services.REFUSE,
    )
    if isinstance(result, spool.Kept):
        return Status(202, _queued_out(result))
    return Status(201 if result.created else 200, _capture_out(result))


def _bound_pipeline(request: HttpRequest, data: dict[str, Any]) -> None:
    """Send a capture that names no pipeline to the one its token is bound
    to (`ApiToken.pipeline`); one that names another is refused, as a token
    bound to a pipeline was given out for that one."""
    bound = token_pipeline(request)
    if not bound:
        return
    named = data.get("pipeline")
    if named in (None, ""):
        data["pipeline"] = bound
    elif named != bound:
        raise ValidationError(
            f"this API token is bound to the pipeline {bound!r}: leave pipeline "
            f"out, or make a token for {named!r} with `dealgate token create "
            f"USERNAME --pipeline KEY`",
            field="pipeline",
        )


def _capture_pipeline(request: HttpRequest, data: dict[str, Any]) -> Pipeline:
    """The pipeline the capture goes to (`services.pipeline_for_capture`).
    A token that names none among several pipelines is told both ways past
    it: name one in each capture, or have an admin bind the token, so its
    captures that name none go to one (`dealgate token bind`)."""
    try:
        return services.pipeline_for_capture(data.get("pipeline"))
    except services.SeveralPipelines as refusal:
        token = token_id(request)
        if token is None:
            raise
        raise ValidationError(
            "there are several pipelines and this API token is bound to none: "
            "say which one in the pipeline field, or have an admin bind the "
            f"token to one with `dealgate token bind {token} KEY` (KEY the "
            "pipeline's key), so that its captures that name none go there",
            field="pipeline",
        ) from refusal


def _capture_anonymously(
    request: HttpRequest, data: dict[str, Any], pipeline: Pipeline
) -> Status[dict[str, Any]] | HttpResponseBase:
    """Capture what a `capture` token sent, held to the web form's limit per
    client address (dealgate.leads.formhits, counted as the form counts):
    checked and counted in one step before the capture; a capture refused
    afterwards gives its count back."""
    from .routes import api  # which imports this module

    client = address_key(client_address(request))
    posted_at = timesource.wall_now()
    with formhits.held(client, posted_at) as slot:
        if not slot.allowed:
            return _limited(request, api, client, posted_at)
        try:
            kept = spool.keep_to_answer_first(
                data,
                source="api",
                pipeline=pipeline,
                by=request.auth,
                sender=slot.sender,
            )
            if kept is not None:
                answer = api.create_response(request, _RECEIVED, status=202)
                return spool.answer_then_take_in(answer, kept)
            result = spool.capture_or_keep(
                data,
                source="api",
                by=request.auth,
                pipeline=pipeline,
                sender=slot.sender,
                then=slot.count_on_capture(),
            )
        except DealgateError:
            slot.give_back()
            raise
    queued = isinstance(result, spool.Kept)
    return Status(202, _queued_out(result) if queued else _RECEIVED)


def _limited(
    request: HttpRequest, api: NinjaAPI, client: str, at: dt.datetime
) -> HttpResponseBase:
    """429: the address sent as many leads as the limit allows in its window;
    Retry-After says when one more fits."""
    allowed, seconds = formhits.rate_limit()
    wait = formhits.retry_after(client, at)
    span = (
        counted(seconds // 60, "minute")
        if seconds % 60 == 0
        else counted(seconds, "second")
    )
    message = (
        f"too many leads from this address: at most {counted(allowed, 'lead')} "
        f"in {span}; one more fits in {counted(wait, 'second')}"
    )
    answer = api.create_response(
        request, {"code": "rate_limited", "message": message}, status=429
    )
    answer["Retry-After"] = str(wait)
    return answer


# What `lead_out` reads: the lead's own columns, its pipeline's key and its
# owner's name. The read of a lead answers every GET, so it loads nothing more
# (a full pipeline and user are some thirty columns to compile and decode).
_OUT_COLUMNS = (
    *(
        name
        for name in LeadOut.model_fields
        if name not in ("pipeline", "owner", "version", "offers")
    ),
    "pipeline__key",
    # The region an offered phone number is read in (`offers`).
    "pipeline__calendar",
    "owner__username",
)


def readable_leads() -> QuerySet[Lead]:
    """The leads a read answers, with what `lead_out` shows of them: one
    query. Everyone the leads endpoints let in reads every lead (README,
    "Who may do what"), one or a list alike."""
    return (
        Lead.objects.select_related("pipeline", "owner")
        .only(*_OUT_COLUMNS)
        # Whether to read offers: most leads have none, and their read stays
        # one query.
        .annotate(has_offers=may_have_offers())
    )


def _lead(lead_id: int) -> Lead:
    lead = readable_leads().filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"no lead with id {lead_id}")
    return lead


# A status, or all the open ones at once, as the inbox shows them.
LeadStatus = Literal[
    "open",
    "new",
    "assigned",
    "answered",
    "converted",
    "disqualified",
    "merged",
    "archived",
]


STATUS = Query(None, description="a status, or open for new, assigned and answered")


@router.get("", response={200: LeadPage, 422: ErrorOut})
def list_leads(
    request: HttpRequest,
    pipeline: str | None = Query(None, description="a pipeline's key"),
    status: LeadStatus | None = STATUS,
    owner: str | None = lists.OWNER,
    created_since: lists.Instant = lists.CREATED_SINCE,
    updated_since: lists.Instant = lists.UPDATED_SINCE,
    limit: int = lists.LIMIT,
    after: int = lists.AFTER,
) -> dict[str, Any]:
    """The leads, oldest first, a page at a time: `limit` at most (50 unless
    asked, 200 at most) and the address of the `next` page. Each filter
    given narrows the list; one naming no pipeline or user is a 422 naming
    it (`owner=(none)`: the leads no one owns). With `updated_since`, the
    leads changed since, in the order they changed, for a sync that pages on
    while leads change. A listed lead says whether repeat inquiries offer it
    values (`has_offers`); its GET answers them."""
    leads = readable_leads()
    if pipeline is not None:
        leads = leads.filter(pipeline=lists.pipeline_named(pipeline))
    if status == "open":
        leads = leads.filter(status__in=Lead.OPEN)
    elif status is not None:
        leads = leads.filter(status=status)
    if owner is not None:
        leads = leads.filter(lists.owned_by(owner))
    if created_since is not None:
        leads = leads.filter(created_at__gte=created_since)
    rows, following = lists.page_of(
        request, leads, limit=limit, after=after, updated_since=updated_since
    )
    return {"items": [_listed(lead) for lead in rows], "next": following}


def _listed(lead: Lead) -> dict[str, Any]:
    out = lead_out(lead, offers=False)
    del out["offers"]
    out["has_offers"] = lead.has_offers
    return out


@router.get("/{lead_id}", response=LeadOut)
def get_lead(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    return lead_out(_lead(lead_id))


@router.patch(
    "/{lead_id}",
    auth=DEALS_AUTH,
    response={200: LeadOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LeadPatch.model_json_schema()}},
        }
    },
)
@reads_own_body
def edit(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    """Change the buyer's fields of an open lead (name, email, phone, company,
    website, country, segment, company_size, value, currency), as its owner,
    a manager or an admin, checked as a capture checks them; to take what a
    repeat inquiry offers (the lead's `offers`), send its values here.
    `version` is the one GET answered, and a lead changed since is a 409
    naming the fields. A stored phone number is read again only when `phone`
    changes it.
    Needs a token with the scope `leads,deals`, as the deals' changes do."""
    # Its types are checked once the person's right is (`edit_lead`).
    changes = _json_body(request, typed=False)
    version = changes.pop("version", None)
    edit_lead(lead_id, changes, by=request.auth, version=version, json_typed=True)
    return lead_out(_lead(lead_id))


@router.post(
    "/{lead_id}/activities",
    response={200: LeadOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def add_activity(
    request: HttpRequest, lead_id: int, payload: LeadActivityIn
) -> dict[str, Any]:
    """Log a call, email, meeting or note, as the lead's owner, a manager or
    an admin; the owner's first outbound one answers the lead and stores its
    response time."""
    services.record_response(
        lead_id,
        kind=payload.kind,
        by=request.auth,
        subject=payload.subject,
        body=payload.body,
        outbound=payload.outbound,
    )
    return lead_out(_lead(lead_id))


@router.post(
    "/{lead_id}/disqualify",
    response={200: LeadOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def disqualify(
    request: HttpRequest, lead_id: int, payload: DisqualifyIn
) -> dict[str, Any]:
    """Close the lead as not worth pursuing, as its owner, a manager or an
    admin."""
    version = _version_sent(request, payload.version)
    services.disqualify_lead(lead_id, payload.reason, by=request.auth, version=version)
    return lead_out(_lead(lead_id))


class ConvertIn(Schema):
    """Where the lead's deal starts; any other key is refused (422). The
    body may be left out: the deal starts in the first stage."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(
        "",
        description="an open stage's key; the pipeline's first by default. A "
        "later stage takes what a forward move into it needs (422 with unmet)",
    )
    version: str | None = Field(
        None,
        description="the lead's version as you read it (or send it as If-Match); "
        "a lead changed since is a 409 naming what changed. Without one the "
        "lead is taken as it is",
    )


@router.post(
    "/{lead_id}/convert",
    response={200: LeadOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
)
def convert(
    request: HttpRequest, lead_id: int, payload: ConvertIn | None = None
) -> dict[str, Any]:
    """Turn the lead into a deal in its pipeline's first stage, or `stage`."""
    stage = payload.stage if payload is not None else ""
    version = _version_sent(request, payload.version if payload is not None else None)
    services.convert_lead(lead_id, by=request.auth, stage=stage, version=version)
    return lead_out(_lead(lead_id))


def _version_sent(request: HttpRequest, sent: str | None) -> str | None:
    """The version of the lead the caller read: the body's `version`, else
    an If-Match header (quotes, a W/ and "*" taken as none). None when
    neither is sent: the action takes the lead as it is, as it always has."""
    header = request.headers.get("If-Match", "").strip().removeprefix("W/")
    header = header.strip('"') if header != "*" else ""
    if sent and header and sent != header:
        raise ValidationError(
            "version: the body's version and If-Match differ; send the one you read",
            field="version",
        )
    return sent or header or None
