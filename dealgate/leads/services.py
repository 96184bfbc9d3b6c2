"""Operations on leads. Every door (API, web form, pages, CLI, imports) calls
these, so a lead is checked, de-duplicated and routed the same way everywhere.

Verbs keep fixed meanings: `capture_lead` validates, then creates or
attaches, and routes; `assign_lead`, `record_response`, `convert_lead`,
`disqualify_lead`, `split_lead` and `merge_lead` check permission and state,
then change and record. Each runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import transaction

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.clocks import bulk
from dealgate.clocks import services as clocks
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.currencies import check_decimals
from dealgate.core.names import tidy_name
from dealgate.core.text import check_text, cut, required_text
from dealgate.deals.idempotency import fingerprint
from dealgate.deals.models import Activity, Deal
from dealgate.deals.services import (
    Contact,
    MoveRefused,
    check_may_change,
    check_still_active,
    managed_people,
    start_deal,
)
from dealgate.errors import Conflict, NotFound, PermissionDenied, ValidationError
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Handoff, Pipeline, Stage

from . import assign, dedup, followups, normalize
from .intake import LIMITS, CleanLead, clean_lead
from .models import DedupDecision, Lead, LeadActivity, LeadAssignment, LeadNotice
from .versions import check_task_open, check_version

log = logging.getLogger("dealgate.leads")

CHANNELS = ("api", "form", "web", "import")
# What a capture does with an inquiry sent under an external id that an
# earlier, different inquiry was captured with (docs/leads.md, "The same
# external_id"). REFUSE for a caller answered after the capture (the API with
# a `leads` token or a session): 422 naming external_id, as a deal's reused
# Idempotency-Key is refused. KEEP where the sender was answered already or
# may never be told (a capture token, a kept inquiry taken in later): the
# inquiry is captured by the usual rules without the id, and a warning names
# it, so no buyer is lost. SKIP for an import, which counts the row as
# already present and warns.
REFUSE, KEEP, SKIP = "refuse", "keep", "skip"
# The fields a sender gives, whose values make an inquiry the same one.
SENT = ("name", "email", "phone", "company", "website", "country", "segment")
SENT += ("company_size", "value", "currency", "message", "source", "custom")


class ExternalIdReused(ValidationError):
    """An external id already captured with another inquiry."""

    code = "external_id_reused"


# The longest text a person may type, in characters: a disqualify reason
# (the column's size), an assignment's note (it joins the routing reason),
# an activity's subject (the column's size) and body (as a lead's message).
MAX_REASON = 200
MAX_NOTE = 200
MAX_SUBJECT = 300
MAX_BODY = LIMITS["message"]


@dataclass
class CaptureResult:
    """What a capture did. `created` is True for a new lead; otherwise the
    inquiry was attached (`decision` says to what and why) or, with a known
    external id, it had been captured before (`lead` is that lead)."""

    created: bool
    lead: Lead | None = None
    decision: DedupDecision | None = None
    deal: Deal | None = None
    note: str = ""
    # Known by its external id, but sent with other content (SKIP).
    other_content: bool = False

    @property
    def reason(self) -> str:
        if self.created and self.lead is not None:
            return self.lead.routing_reason
        if self.decision is not None:
            return self.decision.reason
        return self.note


class SeveralPipelines(ValidationError):
    """A capture that names no pipeline while there are several: the API
    adds how a token's holder gets past it (`api.leads`)."""


def pipeline_for_capture(key: str | None) -> Pipeline:
    """The pipeline a capture goes to: `key`, or the only one there is
    (SeveralPipelines when there are more).

    With its intake window and handoff, so routing and the response clock
    need no query for them (`assign.intake_window`, `assign.intake_handoff_id`).
    One query in fixed SQL: every capture reads it, and the ORM spent more
    CPU compiling the two correlated subqueries than PostgreSQL spent on them.
    """
    if key:
        found = _pipelines(' WHERE p."key" = %s', [key])
        if not found:
            raise NotFound(f"no pipeline {key!r}", field="pipeline")
        return found[0]
    found = _pipelines(' ORDER BY p."key" LIMIT 2', [])
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound("there is no pipeline to take leads yet", field="pipeline")
    raise SeveralPipelines(
        "there are several pipelines; say which one in the pipeline field",
        field="pipeline",
    )


def _pipelines_sql() -> str:
    """Pipelines with the window and id of their intake handoff: the handoff
    from a lead (no from-stage) into the lowest-placed stage."""
    intake = (
        f'FROM "{Handoff._meta.db_table}" h '
        f'INNER JOIN "{Stage._meta.db_table}" s ON s."id" = h."to_stage_id" '
        'WHERE h."pipeline_id" = p."id" AND h."from_stage_id" IS NULL '
        'ORDER BY s."position" LIMIT 1'
    )
    return (
        f'SELECT {_PIPELINE_COLUMNS}, (SELECT h."response_window_minutes" {intake}), '
        f'(SELECT h."id" {intake}) FROM "{Pipeline._meta.db_table}" p'
    )


def _pipelines(tail: str, params: list[Any]) -> list[Pipeline]:
    found = []
    for pipeline, (window, handoff_id) in bulk.read(
        Pipeline, _PIPELINE_FIELDS, _PIPELINES + tail, params
    ):
        # What assign.intake_window and intake_handoff_id read first.
        pipeline.intake_window, pipeline.intake_handoff_id = window, handoff_id
        found.append(pipeline)
    return found


_PIPELINE_FIELDS, _PIPELINE_COLUMNS = bulk.columns(Pipeline, "p")
_PIPELINES = _pipelines_sql()


def phone_region(pipeline: Pipeline) -> str | None:
    """Where numbers without a country code are read: the LEADS_PHONE_REGION
    setting, else the country of the pipeline's holiday calendar."""
    region = getattr(settings, "LEADS_PHONE_REGION", "") or ""
    if not region:
        holidays = (pipeline.calendar or {}).get("holidays") or {}
        region = holidays.get("country", "") if isinstance(holidays, dict) else ""
    return region.upper() or None


def capture_lead(
    data: Mapping[str, Any],
    *,
    source: str,
    by: User | None = None,
    pipeline: Pipeline | None = None,
    at: dt.datetime | None = None,
    reused_id: str = KEEP,
) -> CaptureResult:
    """Check, de-duplicate and route one inquiry, all in one transaction.

    `source` is the door it came through ("api", "form", "web", "import"),
    stored as the lead's channel; the lead's own `source` field (what
    routing rules test) is `data["source"]`, else the door. `data` holds
    the fields of dealgate.leads.intake.ACCEPTED; a bad one raises
    ValidationError naming it, before anything is written.

    A repeat of an open lead or deal is attached to it (see `dedup`) and no
    lead is created. A new lead is routed by the pipeline's rules and its
    response window starts, at `at`: now, or for an inquiry kept while the
    database was busy (dealgate.leads.spool), when it was received.

    An inquiry with an `external_id` captured before is that capture again
    when it sends the same (`inquiry_digest`); with other content,
    `reused_id` says what is done (REFUSE, KEEP or SKIP, above).

    What it did is logged at INFO when it is committed: at once when the
    capture is the transaction, else when the caller's transaction commits
    (nothing, if that rolls back).
    """
    if source not in CHANNELS:
        raise ValueError(f"unknown channel {source!r}")
    pipeline = pipeline or pipeline_for_capture(data.get("pipeline"))
    # A value in the currency the deal it may become takes (`_new_deal`).
    lead = clean_lead(data, region=phone_region(pipeline), currency=pipeline.currency)
    lead.source = lead.source or source
    with transaction.atomic():
        result = _capture(pipeline, lead, source, by, at or timesource.now(), reused_id)
    if log.isEnabledFor(logging.INFO):
        # Made now, so that waiting for the commit holds no lead.
        line = _capture_line(result, source)
        if line is not None:
            transaction.on_commit(lambda: log.info(*line))
    return result


def _capture(
    pipeline: Pipeline,
    lead: CleanLead,
    channel: str,
    by: User | None,
    now: dt.datetime,
    reused_id: str = KEEP,
) -> CaptureResult:
    dedup.lock_keys(lead, channel)
    if lead.external_id:
        known = _known_external(pipeline, channel, lead)
        if known is not None and not known.other_content:
            return known
        if known is not None:
            if reused_id != KEEP:
                return _reused_elsewhere(known, lead, reused_id)
            lead = _without_reused_id(known, lead, channel)
    found = dedup.find_match(lead)
    if found is not None:
        decision = dedup.attach(
            found, lead, pipeline=pipeline, channel=channel, by=by, now=now
        )
        return CaptureResult(False, lead=found.lead, decision=decision, deal=found.deal)
    routed = assign.route(pipeline, lead.facts(channel), now, defer_turn=True)
    row = _new_lead(pipeline, lead, channel, by, now, routed)
    return CaptureResult(True, lead=row)


def _known_external(
    pipeline: Pipeline, channel: str, lead: CleanLead
) -> CaptureResult | None:
    """The earlier capture of an inquiry with `lead`'s external id, if any: a
    lead, or a repeat attached somewhere (and not split off since), marked
    `other_content` when what it holds is not what `lead` sends
    (`inquiry_digest`).

    One query in fixed SQL, as `dedup.find_match`'s: every imported row asks,
    and compiling the two ORM lookups cost a row more than its whole capture.
    """
    external_id = lead.external_id
    with bulk.prepared_cursor() as cursor:
        cursor.execute(
            _KNOWN_EXTERNAL,
            [pipeline.pk, channel, external_id, channel, external_id, pipeline.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    kind, row_id, lead_id, deal_id = row
    sent = inquiry_digest(lead)
    if kind == 0:
        first = Lead.objects.get(pk=row_id)
        note = f"already captured as lead {first.pk} (same external_id)"
        kept = first.inquiry_digest or _lead_digest(first)
        return CaptureResult(False, lead=first, note=note, other_content=kept != sent)
    where = f"lead {lead_id}" if lead_id else f"deal {deal_id}"
    note = f"already attached to {where} (same external_id)"
    first = Lead.objects.get(pk=lead_id) if lead_id else None
    deal = Deal.objects.get(pk=deal_id) if deal_id else None
    data = DedupDecision.objects.values_list("data", flat=True).get(pk=row_id)
    kept = inquiry_digest(CleanLead.from_json(data))
    return CaptureResult(
        False, lead=first, deal=deal, note=note, other_content=kept != sent
    )


def inquiry_digest(lead: CleanLead) -> str:
    """A SHA-256 of what an inquiry's sender gave (`SENT`), as read: two
    sends of one inquiry have the same one, another person's inquiry
    another."""
    data = lead.to_json()
    return fingerprint({name: data[name] for name in SENT})


def _lead_digest(lead: Lead) -> str:
    """`inquiry_digest` of a lead stored without one, by its fields now."""
    return inquiry_digest(CleanLead.from_json(_fields_of(lead)))


def _reused_elsewhere(
    known: CaptureResult, lead: CleanLead, reused_id: str
) -> CaptureResult:
    """An inquiry sent under an external id another inquiry was captured
    with, for a caller who is answered after the capture: refused (REFUSE),
    naming the field and where the id went, or for an import (SKIP) the
    earlier capture, marked `other_content` for the import to warn of."""
    if reused_id == SKIP:
        return known
    where = _where(known)
    raise ExternalIdReused(
        f"external_id {lead.external_id!r} was already used for another inquiry "
        f"(captured as {where}); send this one under an id of its own, or the "
        "first one's content to repeat it",
        field="external_id",
    )


def _where(known: CaptureResult) -> str:
    """Where an earlier capture went, in words: "lead 12", "deal 7"."""
    if known.lead is not None:
        return f"lead {known.lead.pk}"
    return f"deal {known.deal.pk}" if known.deal is not None else "nowhere now"


def _without_reused_id(
    known: CaptureResult, lead: CleanLead, channel: str
) -> CleanLead:
    """The inquiry to capture, by the usual rules, in place of one sent under
    an external id another inquiry was captured with, where its sender may
    not be refused (KEEP): without the id, which stays the first capture's;
    a warning names it."""
    where = _where(known)
    log.warning(
        "inquiry via %s sent under external_id %r, already used by %s for "
        "another inquiry: captured by the usual rules without the id",
        channel,
        lead.external_id,
        where,
    )
    return replace(lead, external_id="")


def _known_external_sql() -> str:
    """The lead (kind 0) with a pipeline, channel and external id, else the
    first decision (kind 1) not undone with them. The lead's side repeats the
    condition of its unique index (Lead.Meta), so that SQLite uses it."""
    return (
        f'SELECT 0, l."id", NULL, NULL FROM "{Lead._meta.db_table}" l '
        'WHERE l."pipeline_id" = %s AND l."channel" = %s AND l."external_id" = %s '
        "AND NOT (l.\"external_id\" = '') "
        f'UNION ALL SELECT 1, d."id", d."lead_id", d."deal_id" '
        f'FROM "{DedupDecision._meta.db_table}" d '
        'WHERE d."channel" = %s AND d."external_id" = %s AND +d."pipeline_id" = %s '
        'AND d."undone_at" IS NULL ORDER BY 1, 2 LIMIT 1'
    )


_KNOWN_EXTERNAL = _known_external_sql()


def _contact_address(lead: Lead) -> str:
    """The lead's email as its deal's contact keeps it: lower case, its
    domain in ASCII, else its key when the address no longer reads."""
    try:
        return normalize.email_address(lead.email)
    except ValueError:
        return lead.email_key


def _new_lead(
    pipeline: Pipeline,
    lead: CleanLead,
    channel: str,
    by: User | None,
    now: dt.datetime,
    routed: assign.Routing,
    received: dt.datetime | None = None,
) -> Lead:
    """A new lead, routed at `now`; `received`, when earlier, is when the
    inquiry first came in (its first contact, as reports count it)."""
    fields = lead.to_json()
    fields["value"] = lead.value
    if lead.external_id:
        fields["inquiry_digest"] = inquiry_digest(lead)
    row = Lead(
        pipeline=pipeline,
        channel=channel,
        created_at=received or now,
        created_by=by,
        company_match=lead.company_match,
        company_match_other=lead.company_match_other,
        company_match_typo=lead.company_match_typo,
        **fields,
    )
    _apply_routing(row, pipeline, routed, now)
    # The lead, its response clock and assignment, and the rotation's turn
    # (`routed` from route(..., defer_turn=True)) in one statement, without
    # the ORM compiling a 35-column INSERT per lead. No post_save: the clock
    # that `clocks.services.lead_changed` would start is written here.
    linked = []
    if clocks.response_owed(row):
        clock = clocks.response_clock(row)
        linked.append((clock, {"lead_id": bulk.PARENT_ID, "key": clocks.LEAD_KEY}))
    if routed.owner is not None:
        assignment = LeadAssignment(
            owner=routed.owner, rule=routed.rule, reason=routed.reason, at=now
        )
        linked.append((assignment, {"lead_id": bulk.PARENT_ID}))
    bulk.insert_linked(row, linked, routed.turn.update() if routed.turn else None)
    return row


def _apply_routing(
    row: Lead, pipeline: Pipeline, routed: assign.Routing, now: dt.datetime
) -> None:
    """Set owner, rule and reason; an owner starts the response window."""
    row.owner = routed.owner
    row.rule = routed.rule
    row.routing_reason = routed.reason
    if routed.owner is None:
        row.status = Lead.Status.NEW
        row.assigned_at = row.response_due_at = None
        return
    row.status = Lead.Status.ASSIGNED
    row.assigned_at = now
    row.response_due_at = assign.due_at(pipeline, now)
    row.first_response_at = None
    row.response_wall_seconds = row.response_business_minutes = None


def _capture_line(result: CaptureResult, channel: str) -> tuple[Any, ...] | None:
    """The log line of a capture, as a format and its arguments."""
    if result.created and result.lead is not None:
        lead = result.lead
        if lead.owner is None:
            # The routing reason says why in words ("no routing rule matches").
            routed = f"not assigned: {lead.routing_reason or 'no rule placed it'}"
        else:
            by = f" by rule {lead.rule!r}" if lead.rule else ""
            routed = f"assigned to {lead.owner.username}{by}"
        return ("lead %s captured via %s, %s", lead.pk, channel, routed)
    if result.decision is not None:
        target = (
            f"lead {result.decision.lead_id}"
            if result.decision.lead_id
            else f"deal {result.decision.deal_id}"
        )
        return (
            "inquiry via %s attached to %s (%s), decision %s",
            channel,
            target,
            result.decision.matched_on,
            result.decision.pk,
        )
    if result.lead is not None:
        return (
            "inquiry via %s repeats lead %s by external id",
            channel,
            result.lead.pk,
        )
    return None


# --- changing a lead ---------------------------------------------------------


def _locked_lead(lead_id: int) -> Lead:
    locked = Lead.objects.select_for_update().filter(pk=lead_id).values_list("pk")
    if not list(locked):
        raise NotFound(f"no lead with id {lead_id}")
    return Lead.objects.select_related("pipeline", "owner").get(pk=lead_id)


def _lock_leads(*lead_ids: int) -> None:
    """Lock these leads' rows until the transaction ends, in id order (on
    SQLite the IMMEDIATE transaction already holds the whole database)."""
    rows = Lead.objects.select_for_update().filter(pk__in=lead_ids).order_by("pk")
    list(rows.values_list("pk", flat=True))


def _may_change(lead: Lead, by: User | None, what: str) -> None:
    if by is None or by.is_manager or by.pk == lead.owner_id:
        return
    raise PermissionDenied(f"only the lead's owner, a manager or an admin may {what}")


def _must_be_open(lead: Lead, what: str) -> None:
    if not lead.is_open:
        raise Conflict(f"lead {lead.pk} is {lead.status}; it cannot {what}")


def assign_lead(
    lead_id: int,
    owner: User | None,
    *,
    by: User | None,
    note: str = "",
    now: dt.datetime | None = None,
    version: str | None = None,
    exclude: frozenset[int] = frozenset(),
) -> Lead:
    """Give an open lead to `owner` (a manager's choice), or with no owner
    route it again by the rules, skipping whoever has it now and the people
    in `exclude` (a fallback rule may still give it back). Either way the
    response window restarts.
    `by` None is the system (the clocks' sweeper), allowed like a manager.

    Routing again that finds nobody raises Conflict and changes nothing: a
    lead is never left unowned by an attempt to move it, and a waiting lead
    keeps waiting (the rotation's turn is not taken either). Given the
    `version` a page or API call read, a lead changed since is a Conflict
    naming what changed (`versions.check_version`), as for disqualifying
    and converting.
    """
    note = note.strip()
    check_text(note, "note", limit=MAX_NOTE, one_line=True)
    with transaction.atomic():
        lead = _locked_lead(lead_id)
        _must_be_open(lead, "be assigned")
        if by is not None and not by.is_manager:
            raise PermissionDenied("only a manager may assign leads")
        check_version(lead, version, "assign it")
        now = now or timesource.now()
        if owner is None:
            facts = CleanLead.from_json(_fields_of(lead)).facts(lead.channel)
            before = frozenset({lead.owner_id} if lead.owner_id else ()) | exclude
            routed = assign.route(lead.pipeline, facts, now, exclude=before)
            if routed.owner is None:
                # Better an owner who is late than no owner at all.
                where = (
                    f"with {lead.owner.username}"
                    if lead.owner_id is not None
                    else "waiting for an owner"
                )
                raise Conflict(
                    f"lead {lead.pk} stays {where}: routing found nobody "
                    f"{'else ' if lead.owner_id is not None else ''}"
                    f"({routed.reason})"
                )
            if note:
                routed = assign.Routing(
                    routed.owner, routed.rule, f"routed again ({note}): {routed.reason}"
                )
        else:
            if not owner.is_active:
                raise ValidationError(f"{owner.username} is not active", field="owner")
            who = by.display_name if by else "the system"
            reason = f"assigned by hand by {who}" + (f": {note}" if note else "")
            routed = assign.Routing(owner, "manual", reason)
        _apply_routing(lead, lead.pipeline, routed, now)
        lead.save()
        if routed.owner is not None:
            LeadAssignment.objects.create(
                lead=lead,
                owner=routed.owner,
                rule=routed.rule,
                reason=routed.reason,
                at=now,
                by=by if owner is not None else None,
            )
            # After the write: one that waited for a hand-over reads it here.
            check_still_active("owner", routed.owner.pk)
    log.info(
        "lead %s assigned to %s by %s",
        lead.pk,
        lead.owner.username if lead.owner else "nobody",
        by.username if by else "routing",
    )
    return lead


def hand_over_lead(
    lead_id: int,
    owner: User,
    *,
    by: User | None,
    note: str,
    now: dt.datetime | None = None,
) -> Lead:
    """Give an open lead to `owner` as it stands, for a person who leaves
    (dealgate.accounts.handover). Unlike `assign_lead`, the response window
    keeps its start and due time (the inquirer has waited since) and an
    answered lead stays answered; its open clocks (the window, follow-up
    tasks) become `owner`'s. Recorded as an assignment by hand, with `note`
    as its reason; `by` None is the system, allowed like a manager."""
    with transaction.atomic():
        lead = _locked_lead(lead_id)
        _must_be_open(lead, "be handed over")
        if by is not None and not by.is_manager:
            raise PermissionDenied("only a manager may assign leads")
        if not owner.is_active:
            raise ValidationError(f"{owner.username} is not active", field="owner")
        before = lead.owner
        who = by.display_name if by else "the system"
        lead.owner, lead.rule = owner, "manual"
        lead.routing_reason = f"handed over by {who}: {note}"
        if before is not None:
            # First, so the save below finds the window already the owner's
            # and neither restarts nor cancels it.
            clocks.person_replaced(before.pk, owner.pk, lead_id=lead.pk)
        lead.save(update_fields=["owner", "rule", "routing_reason"])
        LeadAssignment.objects.create(
            lead=lead,
            owner=owner,
            rule=lead.rule,
            reason=lead.routing_reason,
            at=now or timesource.now(),
            by=by,
        )
        # After the write, as `assign_lead`: a successor being deactivated
        # meanwhile is read inactive here, and nothing is handed to them.
        check_still_active("owner", owner.pk)
    log.info(
        "lead %s handed over from %s to %s by %s",
        lead.pk,
        before.username if before else "nobody",
        owner.username,
        _who(by),
    )
    return lead


# Waiting leads one sweep tries to place, oldest first.
WAITING_BATCH = 200


def route_waiting_leads(*, now: dt.datetime | None = None) -> int:
    """Route again the open leads still waiting for an owner, in pipelines
    with routing rules; returns how many found one.

    A lead waits when no rule could place it as it came: no fallback rule
    and everyone away, at their cap or off at the next opening. The sweep
    calls this on every tick, so such a lead goes out as soon as someone can
    take it, with its response window starting then, instead of sitting in
    the inbox until a manager looks. A lead nobody can take yet is left as
    it was (no turn of a rotation is used up).
    """
    now = now or timesource.now()
    waiting = list(
        # Imported records of past inquiries are never routed.
        Lead.objects.filter(status=Lead.Status.NEW, owner__isnull=True, historic=False)
        .select_related("pipeline")
        .order_by("created_at", "id")[:WAITING_BATCH]
    )
    placed = 0
    for lead in waiting:
        try:
            if not assign.rules_for(lead.pipeline):
                continue  # routed by hand in this pipeline
            assign_lead(lead.pk, None, by=None, note="it was waiting", now=now)
        except (Conflict, ValidationError, NotFound):
            continue  # still nobody (or no longer waiting): next tick
        placed += 1
    if placed:
        log.info("%d waiting leads placed by routing them again", placed)
    return placed


def _fields_of(lead: Lead) -> dict[str, Any]:
    names = CleanLead.__dataclass_fields__
    data = {name: getattr(lead, name) for name in names}
    data["value"] = str(lead.value) if lead.value is not None else None
    return data


def record_response(
    lead_id: int,
    *,
    kind: str,
    by: User | None,
    subject: str = "",
    body: str = "",
    outbound: bool = True,
    at: dt.datetime | None = None,
) -> LeadActivity:
    """Log an activity on a lead, as its owner or a manager (PermissionDenied
    for anyone else). The owner's first outbound call, email or meeting
    answers the lead: it ends the response window and stores the response
    time in wall seconds and business minutes."""
    if kind not in LeadActivity.Kind.values or kind in _NOT_LOGGED:
        raise ValidationError(
            f"kind must be call, email, meeting or note, got {kind!r}", field="kind"
        )
    subject = subject.strip()
    check_text(subject, "subject", limit=MAX_SUBJECT, one_line=True)
    check_text(body, "body", limit=MAX_BODY)
    now = timesource.now()
    at = at or now
    if at > now:
        raise ValidationError("an activity cannot happen in the future", field="at")
    with transaction.atomic():
        lead = _locked_lead(lead_id)
        _may_change(lead, by, "log activities on it")
        activity = LeadActivity.objects.create(
            lead=lead,
            kind=kind,
            outbound=outbound,
            subject=subject or LeadActivity.Kind(kind).label,
            body=body,
            at=at,
            by=by,
        )
        answers = (
            outbound
            and kind in LeadActivity.RESPONSES
            and by is not None
            and by.pk == lead.owner_id
            and lead.status == Lead.Status.ASSIGNED
            and lead.assigned_at is not None
            and at >= lead.assigned_at
        )
        if answers:
            _answer(lead, at)
    if answers:
        log.info(
            "lead %s answered by %s after %.0f business minutes",
            lead.pk,
            by.username,
            lead.response_business_minutes,
        )
    return activity


# Kinds a person does not log: repeat inquiries come with captures, and
# follow-up tasks from the clocks' sweeper.
_NOT_LOGGED = (LeadActivity.Kind.INQUIRY, LeadActivity.Kind.TASK)


def complete_lead_task(
    task_id: int,
    *,
    by: User | None,
    lead_id: int | None = None,
    version: str | None = None,
) -> LeadActivity:
    """Mark a follow-up task on a lead done: its next-step clock is met (or,
    if it had already run out, the lead is no longer at risk for it). The
    lead's owner or a manager may. With `lead_id`, the task must be that
    lead's.

    Given the `version` of the lead a page showed, a lead changed since
    (given to someone else, converted, disqualified) is a Conflict naming
    what changed (`versions.check_version`), and so is a task someone else
    marked done since: nothing is done. Done by the same person (a second
    click), or without a version, doing it twice changes nothing."""
    with transaction.atomic():
        tasks = LeadActivity.objects.filter(pk=task_id, kind=LeadActivity.Kind.TASK)
        if lead_id is not None:
            tasks = tasks.filter(lead_id=lead_id)
        found = tasks.values("lead_id").first()
        if found is None:
            where = f"lead {lead_id}" if lead_id is not None else "a lead"
            raise NotFound(f"no task with id {task_id} on {where}")
        lead = _locked_lead(found["lead_id"])
        _may_change(lead, by, "complete its tasks")
        check_version(lead, version, "mark the task done")
        # Read under the lead's lock, which every change of its tasks takes.
        task = LeadActivity.objects.values("done", "done_by_id").get(pk=task_id)
        if task["done"] and version is not None:
            check_task_open(task_id, f"lead {lead.pk}", task["done_by_id"], by)
        now = timesource.now()
        if not task["done"]:
            LeadActivity.objects.filter(pk=task_id).update(
                done=True, done_at=now, done_by=by
            )
            clocks.lead_task_done(task_id, now)
    log.info("task %s on lead %s done by %s", task_id, lead.pk, _who(by))
    return LeadActivity.objects.get(pk=task_id)


def _answer(lead: Lead, at: dt.datetime) -> None:
    """Record the first answer at `at`: the buyer's wait runs from the
    inquiry's arrival (`created_at`), not from the last assignment, so a
    lead that sat unassigned or was passed around shows all of it."""
    lead.status = Lead.Status.ANSWERED
    lead.first_response_at = at
    lead.response_wall_seconds, lead.response_business_minutes = buyer_wait(
        calendar_for(lead.pipeline), lead.created_at, at
    )
    lead.save(
        update_fields=[
            "status",
            "first_response_at",
            "response_wall_seconds",
            "response_business_minutes",
        ]
    )


def buyer_wait(
    calendar: Calendar, arrived: dt.datetime, answered: dt.datetime
) -> tuple[float, float]:
    """How long a buyer waited from their inquiry's arrival to its first
    answer: (wall seconds, business minutes in `calendar`). The one place a
    lead's response time is counted; leads migration 0014 recounts stored
    ones with it."""
    wall = (answered - arrived).total_seconds()
    return wall, business_time.between(calendar, arrived, answered)


def disqualify_lead(
    lead_id: int, reason: str, *, by: User | None, version: str | None = None
) -> Lead:
    """Close an open lead as not worth pursuing; the reason is required, one
    line as typed (a line break is refused, as in a deal's title, never
    folded into a space)."""
    reason = required_text(
        reason, "reason", missing="a disqualified lead needs a reason"
    )
    check_text(reason, "reason", limit=MAX_REASON, one_line=True)
    with transaction.atomic():
        lead = _locked_lead(lead_id)
        _must_be_open(lead, "be disqualified")
        _may_change(lead, by, "disqualify it")
        check_version(lead, version, "disqualify it")
        lead.status = Lead.Status.DISQUALIFIED
        lead.disqualify_reason = reason
        lead.closed_at = timesource.now()
        lead.save(update_fields=["status", "disqualify_reason", "closed_at"])
    log.info("lead %s disqualified by %s", lead.pk, by.username if by else "system")
    return lead


def convert_lead(
    lead_id: int,
    *,
    by: User | None,
    pipeline: Pipeline | None = None,
    stage: str = "",
    version: str | None = None,
) -> Deal:
    """Turn an open lead into a deal in the first stage of `pipeline` (the
    lead's own by default), or in its open stage `stage`, with its entry in
    the deal's history (source "lead"), its organization and contact, and
    its activities copied.

    The deal is made as one made by hand is (`deals.services.start_deal`):
    its organization is found by name as the deal page finds it, and it
    passes the first stage's entry criteria, and for a later `stage` what a
    forward move into it needs; unmet, nothing is written and MoveRefused
    lists them (give the lead its company, say, and convert it again). A
    stage the pipeline has no open one of is refused naming `stage`.

    The lead's value is judged again in the deal's currency as it is now:
    the lead's own, else the pipeline's, which may have changed since the
    lead was taken (USD to JPY makes 1000.50 no amount); refused, the
    ValidationError names the value and the currency, and nothing is
    written."""
    from dealgate.pipelines.services import active_stages

    with transaction.atomic():
        lead = _locked_lead(lead_id)
        _must_be_open(lead, "be converted")
        _may_change(lead, by, "convert it")
        check_version(lead, version, "convert it")
        pipeline = pipeline or lead.pipeline
        first = active_stages(pipeline).first()
        if first is None:
            raise ValidationError(
                f"pipeline {pipeline.key} has no stage to start a deal in",
                field="pipeline",
            )
        _check_value_for_deal(lead, pipeline)
        deal, unmet = _new_deal(lead, pipeline, stage or first.key, by)
        if unmet:
            # Raised inside the transaction: the deal and its rows go too.
            raise MoveRefused(
                f"lead {lead.pk} cannot become a deal in '{deal.stage.name}' yet: "
                + "; ".join(unmet),
                unmet,
                field="lead",
            )
        lead.status = Lead.Status.CONVERTED
        lead.deal = deal
        lead.closed_at = deal.created_at
        lead.save(update_fields=["status", "deal", "closed_at"])
        _hand_on_tasks(lead, deal, by)
    log.info("lead %s converted into deal %s by %s", lead.pk, deal.pk, _who(by))
    return deal


def _hand_on_tasks(lead: Lead, deal: Deal, by: User | None) -> None:
    """The converted lead's open tasks become the deal's, with their subject
    and due time, and their next-step clocks start on the deal (as any new
    deal task's do); the lead's are done, their clocks met, at the
    conversion. The work they ask for is still owed to the buyer."""
    from .followups import TAG

    now = timesource.now()
    for task in lead.activities.filter(kind=LeadActivity.Kind.TASK, done=False):
        Activity.objects.create(
            deal=deal,
            kind=Activity.Kind.TASK,
            subject=task.subject,
            tag=TAG if TAG in task.data else "",
            due_at=task.due_at,
            at=task.at,
            by_id=task.by_id,
        )
        LeadActivity.objects.filter(pk=task.pk).update(
            done=True, done_at=now, done_by=by
        )
        clocks.lead_task_done(task.pk, now, f"handed on to deal {deal.pk}")


def _check_value_for_deal(lead: Lead, pipeline: Pipeline) -> None:
    """Refuse a lead whose value has more decimals than the currency its
    deal would take: the lead's own, or else `pipeline`'s now. Checked
    before anything is written, in words that say where the currency comes
    from (the deal's own check, in `start_deal`, would only name it)."""
    currency = (lead.currency or pipeline.currency).upper()
    try:
        check_decimals(lead.value, currency)
    except ValidationError as exc:
        whose = (
            "the lead's currency"
            if lead.currency
            else f"pipeline {pipeline.key}'s currency now; the lead names none"
        )
        raise ValidationError(
            f"lead {lead.pk} cannot become a deal: its {exc.message} "
            f"({currency} is {whose})",
            field="value",
        ) from None


def _new_deal(
    lead: Lead, pipeline: Pipeline, stage: str, by: User | None
) -> tuple[Deal, list[str]]:
    """The lead's deal in the open stage keyed `stage`, with what the gates
    into it leave unmet. A company with nothing visible in it (a zero-width
    space) names no organization, and such a name gives no title: the lead
    was taken with them, and cannot be edited, while a deal's title must
    show something."""
    company = tidy_name(lead.company)
    title = company or tidy_name(lead.name) or lead.email or lead.phone
    contact = None
    if lead.name or lead.email or lead.phone:
        contact = Contact(
            name=lead.name or lead.email or lead.phone,
            # As typed (a "+tag" and dots kept), not the matching key.
            email=_contact_address(lead),
            phone=lead.phone_e164 or lead.phone,
        )
    fields = {
        "title": cut(title or f"lead {lead.pk}", 300),
        "organization": company or None,
        "value": lead.value,
        "currency": lead.currency or None,
        "notes": lead.message,
    }
    activities = [
        Activity(
            kind=_deal_kind(a.kind),
            subject=a.subject,
            done=True,
            at=a.at,
            by_id=a.by_id,
            due_at=a.due_at,
            # A task was done when it was marked so; anything else happened.
            done_at=a.done_at if a.kind == LeadActivity.Kind.TASK else a.at,
            done_by_id=a.done_by_id if a.kind == LeadActivity.Kind.TASK else a.by_id,
        )
        for a in lead.activities.all()
        # Open tasks are handed on as open ones (`_hand_on_tasks`).
        if a.kind != LeadActivity.Kind.TASK or a.done
    ]
    return start_deal(
        pipeline,
        fields,
        owner=lead.owner or by,
        by=by,
        source="lead",
        stage=stage,
        contact=contact,
        external_id=str(lead.pk),
        activities=activities,
    )


def _deal_kind(kind: str) -> str:
    """The kind a lead's activity of `kind` has on the deal the lead becomes:
    its own, or a note for kinds a deal does not log (a repeat inquiry)."""
    return kind if kind in Activity.Kind.values else Activity.Kind.NOTE


def split_lead(decision_id: int, *, by: User | None) -> Lead:
    """Undo a de-duplication decision.

    An attached inquiry becomes a lead of its own, routed by the rules, and
    its repeat-inquiry activity is removed. A merged lead is reopened with
    its owner. The note the decision wrote goes wherever it went: from the
    lead or deal it was written on and, when that lead has since become a
    deal, from the deal too (`_remove_note`). The decision keeps the record
    of both. An inquiry attached now wrote nothing into the lead (it offered,
    `offers`); the fields one attached before offers filled on an open lead
    are emptied again where the lead still holds its values
    (`edits.empty_filled`).
    """
    with transaction.atomic():
        decision = (
            DedupDecision.objects.select_for_update(of=("self",))
            .filter(pk=decision_id)
            .select_related("lead", "deal", "source_lead", "pipeline")
            .first()
        )
        if decision is None:
            raise NotFound(f"no de-duplication decision {decision_id}")
        if decision.undone_at is not None:
            raise Conflict(f"decision {decision_id} was already undone")
        # The leads it changes, lowest id first as a merge takes them, and
        # read again once held: a conversion of the target either finished
        # (its deal holds a copy of the note, removed below) or waits.
        _lock_leads(*(pk for pk in (decision.lead_id, decision.source_lead_id) if pk))
        if decision.lead is not None:
            decision.lead.refresh_from_db(fields=["status", "owner", "deal"])
        refusal = split_refusal(decision, by)
        if refusal is not None:
            raise PermissionDenied(refusal)
        now = timesource.now()
        if decision.action == DedupDecision.Action.ATTACHED:
            lead = _split_attached(decision, by, now)
            if decision.lead_id is not None:
                from .edits import empty_filled  # edits imports this module

                note = LeadActivity.objects.filter(pk=decision.activity_id).first()
                empty_filled(decision.lead_id, note.data if note else None)
            followups.withdraw(decision)
        else:
            lead = _reopen_merged(decision, now)
        copy_on = _remove_note(decision)
        decision.undone_at, decision.undone_by = now, by
        decision.source_lead = lead
        decision.save(update_fields=["undone_at", "undone_by", "source_lead"])
    log.info(
        "decision %s split into lead %s by %s%s",
        decision_id,
        lead.pk,
        _who(by),
        f"; its note removed from deal {copy_on} too" if copy_on else "",
    )
    return lead


def may_split(decision: DedupDecision, user: User | None) -> bool:
    """Whether `user` may undo `decision` (`split_refusal` says why not).
    Reads the decision's lead, deal and source lead: select them with it."""
    return split_refusal(decision, user) is None


def may_split_each(decisions: list[DedupDecision], user: User | None) -> list[bool]:
    """`may_split` of each of `decisions`, for a page that lists them: at
    most one query whatever their number (a manager's teams, read once),
    where asking of each would cost one a decision on a deal. Reads their
    lead, deal and source lead: select them with them."""
    managed = None
    if user is not None and user.is_manager and any(d.deal_id for d in decisions):
        managed = managed_people(user)
    return [split_refusal(d, user, managed=managed) is None for d in decisions]


def split_refusal(
    decision: DedupDecision,
    user: User | None,
    *,
    managed: AbstractSet[int] | None = None,
) -> str | None:
    """Why `user` may not undo `decision`, or None when they may: a split
    removes the note from the lead or deal the decision wrote on (and from
    the deal that lead became, if it was converted since), and a merge's
    split reopens the merged lead, so `user` must be one who may log on
    each: a lead's owner or a manager, a deal by `check_may_change` (given
    `managed`, the people of `user`'s teams, it asks no query). None (the
    system) may split anything. A converted lead's deal is read with the
    lead: a page listing decisions selects it with them."""
    if user is None:
        return None
    leads = [decision.lead]
    if decision.action == DedupDecision.Action.MERGED:
        leads.append(decision.source_lead)
    for lead in leads:
        if lead is not None and not (user.is_manager or user.pk == lead.owner_id):
            return (
                f"only the owners of the leads and deals a split changes, or a "
                f"manager, may split this: lead {lead.pk} is not yours"
            )
    deals = [decision.deal]
    if decision.lead is not None and decision.lead.deal_id is not None:
        deals.append(decision.lead.deal)
    for deal in deals:
        if deal is None:
            continue
        try:
            check_may_change(user, deal, managed=managed)
        except PermissionDenied as exc:
            return f"a split changes deal {deal.pk}: {exc.message}"
    return None


def _split_attached(decision: DedupDecision, by: User | None, now) -> Lead:
    """The attached inquiry as a lead of its own: first contact when it came
    in (`decision.at`), routed now, with a whole response window from now
    (while attached, nobody owed it an answer)."""
    lead = CleanLead.from_json(decision.data)
    pipeline = pipeline_for_capture(decision.pipeline.key)
    routed = assign.route(
        pipeline, lead.facts(decision.channel or "web"), now, defer_turn=True
    )
    channel = decision.channel or "web"
    return _new_lead(pipeline, lead, channel, by, now, routed, received=decision.at)


def _reopen_merged(decision: DedupDecision, now: dt.datetime) -> Lead:
    """Reopen the merged lead with its owner. Unanswered, it gets a whole
    response window from `now`: its old one ran while it was merged, and
    would make the next sweep breach it at once. An owner who may no longer
    sign in does not get it back: it is routed again (`_route_from_leaver`)."""
    if decision.source_lead_id is None:
        raise Conflict("the merged lead no longer exists")
    lead = _locked_lead(decision.source_lead_id)
    changed = ["status", "merged_into", "closed_at"]
    if lead.owner_id is not None and not _may_still_own(lead.owner_id):
        changed += _route_from_leaver(lead, now)
    elif lead.first_response_at is not None:
        lead.status = Lead.Status.ANSWERED
    elif lead.owner_id is not None:
        lead.status = Lead.Status.ASSIGNED
        lead.assigned_at = now
        lead.response_due_at = assign.due_at(lead.pipeline, now)
        changed += ["assigned_at", "response_due_at"]
    else:
        lead.status = Lead.Status.NEW
    lead.merged_into = None
    lead.closed_at = None
    lead.save(update_fields=changed)
    return lead


def _may_still_own(user_id: int) -> bool:
    """Whether the person may still be given a lead, read as every door
    that gives work reads it (`check_still_active`: on PostgreSQL FOR KEY
    SHARE, held to the end of the transaction, so a hand-over of them
    waits for it, and takes the lead too)."""
    try:
        check_still_active("owner", user_id)
    except ValidationError:
        return False
    return True


def _route_from_leaver(lead: Lead, now: dt.datetime) -> list[str]:
    """Route a reopened lead whose owner may no longer sign in again by the
    pipeline's rules, as new, with a whole response window from `now` (a
    merged lead is no work of theirs a hand-over gave away); with nobody to
    take it, it waits for an owner. Returns the fields changed."""
    leaver = lead.owner.username
    facts = CleanLead.from_json(_fields_of(lead)).facts(lead.channel)
    routed = assign.route(lead.pipeline, facts, now)
    reason = f"reopened by a split; {leaver} may no longer sign in: {routed.reason}"
    _apply_routing(
        lead, lead.pipeline, assign.Routing(routed.owner, routed.rule, reason), now
    )
    if lead.owner is not None:
        LeadAssignment.objects.create(
            lead=lead, owner=lead.owner, rule=lead.rule, reason=reason, at=now
        )
    transaction.on_commit(
        lambda: log.info(
            "lead %s reopened by a split: %s may no longer sign in; %s",
            lead.pk,
            leaver,
            f"routed to {lead.owner.username}" if lead.owner else "waiting",
        )
    )
    return [
        "owner",
        "rule",
        "routing_reason",
        "assigned_at",
        "response_due_at",
        "first_response_at",
        "response_wall_seconds",
        "response_business_minutes",
    ]


def _remove_note(decision: DedupDecision) -> int | None:
    """Remove the note `decision` wrote (the repeat inquiry, or "Merged lead
    N"): from the deal it was written on, or from its lead and, when that
    lead was converted since, the copy on its deal, since a conversion
    copies every activity of the lead (`_new_deal`). Returns the id of the
    deal a copy was removed from, or None."""
    if decision.activity_id is None:
        return None
    if decision.lead_id is None:
        Activity.objects.filter(pk=decision.activity_id).delete()
        return None
    note = LeadActivity.objects.filter(pk=decision.activity_id).first()
    if note is None:
        return None
    copy_on = None
    deal_id = decision.lead.deal_id
    if deal_id is not None:
        # The copy is known by what conversion copied as it was: kind,
        # subject, time and author (a deal's activities are never edited).
        # The first made, should two be alike to the microsecond.
        copy = (
            Activity.objects.filter(
                deal_id=deal_id,
                kind=_deal_kind(note.kind),
                subject=note.subject,
                at=note.at,
                by_id=note.by_id,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if copy is not None:
            Activity.objects.filter(pk=copy).delete()
            copy_on = deal_id
    note.delete()
    return copy_on


def merge_lead(
    lead_id: int,
    *,
    by: User | None,
    into_lead: int | None = None,
    into_deal: int | None = None,
    version: str | None = None,
) -> DedupDecision:
    """Force an open lead into another open lead or an open deal: it closes
    as merged, the target gets a note of it and its owner a notice. The
    returned decision can be split to undo it. Given the `version` of the
    lead a page showed, a lead changed since is a Conflict naming what
    changed (`versions.check_version`), and nothing is merged."""
    if (into_lead is None) == (into_deal is None):
        raise ValidationError("merge into one lead or one deal", field="into")
    for kind, target_id in (("lead", into_lead), ("deal", into_deal)):
        # Past a database key's range there is no such row; saying so here
        # spares the database a number it cannot hold.
        if target_id is not None and not 0 < target_id < 2**63:
            raise NotFound(f"no {kind} with id {target_id}", field="into")
    with transaction.atomic():
        # A capture of the buyer waits for the merge and then follows the
        # lead to its target (`dedup.lock_merged_keys`): the capture locks
        # first, as a capture takes them, then the rows.
        keys = Lead.objects.filter(pk=lead_id).only("email_key", "phone_e164")
        for stored in keys:
            dedup.lock_merged_keys(stored)
        if into_lead is not None and into_lead != lead_id:
            # Both rows, lowest id first: a merge of A into B racing one of B
            # into A waits for the first to finish and then finds A closed,
            # instead of each closing its own lead into the other.
            _lock_leads(lead_id, into_lead)
        lead = _locked_lead(lead_id)
        _must_be_open(lead, "be merged")
        _may_change(lead, by, "merge it")
        check_version(lead, version, "merge it")
        target_lead, target_deal = _merge_target(lead, into_lead, into_deal)
        # The merge writes a note on the target and records the decision
        # against it: only as one who may log on it there.
        _may_write_on(target_lead, target_deal, by, "merge into it")
        now = timesource.now()
        subject = cut(f"Merged lead {lead.pk}: {lead.label}", 300)
        if target_lead is not None:
            activity_id = LeadActivity.objects.create(
                lead=target_lead,
                kind=LeadActivity.Kind.NOTE,
                subject=subject,
                body=lead.message,
                data=_fields_of(lead),
                at=now,
                by=by,
            ).pk
        else:
            activity_id = Activity.objects.create(
                deal=target_deal,
                kind=Activity.Kind.NOTE,
                subject=subject,
                done=True,
                at=now,
                by=by,
            ).pk
        lead.status = Lead.Status.MERGED
        lead.merged_into = target_lead
        lead.closed_at = now
        lead.save(update_fields=["status", "merged_into", "closed_at"])
        decision = DedupDecision.objects.create(
            pipeline_id=lead.pipeline_id,
            action=DedupDecision.Action.MERGED,
            matched_on="manual",
            reason=f"merged by hand by {_who(by)}",
            lead=target_lead,
            deal=target_deal,
            source_lead=lead,
            channel=lead.channel,
            data=_fields_of(lead),
            activity_id=activity_id,
            at=now,
            by=by,
        )
        owner_id = (target_lead or target_deal).owner_id
        if owner_id is not None and (by is None or owner_id != by.pk):
            LeadNotice.objects.create(
                user_id=owner_id,
                lead=target_lead,
                deal=target_deal,
                text=cut(f"{lead.label} was merged into yours by {_who(by)}", 300),
                at=now,
            )
    target = f"lead {into_lead}" if into_lead else f"deal {into_deal}"
    log.info("lead %s merged into %s by %s", lead.pk, target, _who(by))
    return decision


def _may_write_on(
    lead: Lead | None, deal: Deal | None, by: User | None, what: str
) -> None:
    """Refuse (PermissionDenied) unless `by` may log on the target lead, as
    its owner or a manager, or on the target deal, by the rule an activity
    logged on it follows (`check_may_change`)."""
    if lead is not None:
        if by is not None and not by.is_manager and by.pk != lead.owner_id:
            raise PermissionDenied(
                f"only lead {lead.pk}'s owner, a manager or an admin may {what}",
                field="into",
            )
    elif deal is not None:
        check_may_change(by, deal)


def _merge_target(
    lead: Lead, into_lead: int | None, into_deal: int | None
) -> tuple[Lead | None, Deal | None]:
    if into_lead is not None:
        if into_lead == lead.pk:
            raise ValidationError("a lead cannot be merged into itself", field="into")
        # Locked by the caller, so its status cannot change under the merge.
        target = Lead.objects.filter(pk=into_lead).first()
        if target is None:
            raise NotFound(f"no lead with id {into_lead}", field="into")
        if not target.is_open:
            raise Conflict(
                f"lead {into_lead} is {target.status}; merge into an open one"
            )
        return target, None
    deal = Deal.objects.select_for_update().filter(pk=into_deal).first()
    if deal is None:
        raise NotFound(f"no deal with id {into_deal}", field="into")
    if deal.status != Deal.Status.OPEN:
        raise Conflict(f"deal {into_deal} is {deal.status}; merge into an open one")
    return None, deal


def mark_notices_read(user: User) -> int:
    """Mark all of `user`'s notices read; returns how many were unread."""
    return LeadNotice.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timesource.now()
    )


def _who(by: User | None) -> str:
    return by.username if by is not None else "system"


__all__ = [
    "CaptureResult",
    "assign_lead",
    "capture_lead",
    "complete_lead_task",
    "convert_lead",
    "disqualify_lead",
    "hand_over_lead",
    "merge_lead",
    "record_response",
    "split_lead",
]
