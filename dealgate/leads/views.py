"""Lead pages: the inbox, a lead, manual entry, decisions, rules and figures.

Thin over `dealgate.leads.services`: each action posts to a view that calls
one service and comes back to the page with a message. Every value a lead
brings is shown through Django's autoescaping; nothing here marks text safe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import tomllib
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.db.models import Count, F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dealgate import timesource
from dealgate.accounts.models import User, by_display_name
from dealgate.clocks.timeleft import format_span
from dealgate.core import business_time
from dealgate.core.numbers import Place, read_place
from dealgate.core.rounding import whole
from dealgate.errors import (
    Busy,
    Conflict,
    DealgateError,
    NotFound,
    ValidationError,
)
from dealgate.pipelines.calendars import calendar_for, shown_zone
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import active_stages
from dealgate.web.busy import RETRY_AFTER, is_busy
from dealgate.web.downloads import csv_download
from dealgate.web.errors import Missing, refused
from dealgate.web.redirects import redirect_back

from . import offers, services, similar, spool
from .assign import intake_window, off_reason
from .edits import edit_lead
from .export import LeadExport, lead_csv
from .intake import LIMITS
from .models import Availability, DedupDecision, Lead, LeadActivity, LeadNotice
from .report import lead_report
from .rules import dump_rules, rules_digest, save_rules
from .templatetags.lead_forms import LABELS
from .templatetags.lead_forms import refusal as refusal_text
from .versions import EDITABLE, changed_since, held_at, is_version, lead_version

log = logging.getLogger("dealgate.leads")

INBOX_ROWS = 100
SECTIONS = (
    (Lead.Status.NEW, "New, waiting for an owner", ("created_at", "id")),
    (
        Lead.Status.ASSIGNED,
        "Assigned, waiting for an answer",
        ("response_due_at", "id"),
    ),
    (Lead.Status.ANSWERED, "Answered", ("-first_response_at", "-id")),
)
# Each section's (title, order) by the status a "more" link names.
SECTION_ORDER = {status: (title, order) for status, title, order in SECTIONS}
ENTRY_FIELDS = ("name", "email", "phone", "company", "website", "country")
ENTRY_FIELDS += ("segment", "company_size", "value", "source", "message")


@dataclass
class Window:
    """How a lead's response window stands, in words for the inbox."""

    text: str
    late: bool = False


def window_of(lead: Lead, now: dt.datetime, window_minutes: int) -> Window:
    """Time left (or overdue) in business time, the response time once
    answered, or the wall time waited while no one owns the lead.

    Business time is said as Today and the board say it
    (`clocks.timeleft.format_span`), in days of the pipeline's calendar: a
    working week overdue reads "5 business days", never 24-hour days.

    The response time is the buyer's wait from the inquiry's arrival
    (`services.buyer_wait`), so it is late when longer than
    `window_minutes`, the pipeline's window for a new lead
    (`assign.intake_window`), as the lead report counts it; not against
    `response_due_at`, which a split that reopens the lead, or an import
    of an older inquiry, sets from a later start."""
    if (
        lead.status == Lead.Status.ANSWERED
        and lead.response_business_minutes is not None
    ):
        late = lead.response_business_minutes > window_minutes
        return Window(f"answered in {response_span(lead)}", late)
    if lead.status == Lead.Status.ASSIGNED and lead.response_due_at is not None:
        calendar = calendar_for(lead.pipeline)
        if now < lead.response_due_at:
            left = business_time.between(calendar, now, lead.response_due_at)
            if left <= 0:
                # Due in closed hours no business minute precedes, as
                # `clocks.timeleft` says it: not late, but no minute left.
                return Window("runs out before business hours resume")
            return Window(f"{format_span(left, calendar.day_minutes)} left")
        over = business_time.between(calendar, lead.response_due_at, now)
        if over == 0:
            # Due at closing: late only once business time has passed beyond
            # it, so an answer first thing next morning is on time.
            return Window("no time left: answer first thing")
        return Window(f"overdue by {format_span(over, calendar.day_minutes)}", True)
    if lead.status == Lead.Status.NEW:
        waited = (now - lead.created_at).total_seconds() / 60
        return Window(f"unassigned for {_wall_minutes(waited)}", waited > 15)
    return Window("")


def response_span(lead: Lead) -> str:
    """The buyer's wait for an answered lead in business time of its
    pipeline's calendar, as `format_span` says it ("2 business days"); an
    answer before a working minute passed (at once, or in closed hours) is
    "under a business minute", since `format_span` never says less than
    one. Empty for a lead not answered."""
    minutes = lead.response_business_minutes
    if minutes is None:
        return ""
    if minutes < 1:
        return "under a business minute"
    return format_span(minutes, calendar_for(lead.pipeline).day_minutes)


def _window(lead: Lead, now: dt.datetime, windows: dict[int, int]) -> Window:
    """`window_of` for a row of the inbox, reading each pipeline's window
    for a new lead once (kept in `windows`, by pipeline id): a query per
    pipeline shown, not per lead."""
    if lead.pipeline_id not in windows:
        windows[lead.pipeline_id] = intake_window(lead.pipeline)
    return window_of(lead, now, windows[lead.pipeline_id])


def _wall_minutes(minutes: float) -> str:
    """Wall time, for a wait no calendar counts (a lead without an owner):
    days here are 24 hours, unlike business days."""
    count = whole(minutes)
    if count < 60:
        return f"{count} min"
    hours, rest = divmod(count, 60)
    if hours < 24:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _pipelines() -> list[Pipeline]:
    return list(Pipeline.objects.order_by("key"))


def _inbox_leads(request: HttpRequest) -> tuple[QuerySet[Lead], str, User | None]:
    """The leads the inbox's filters choose, the pipeline's key and the
    owner, as the board reads its filters: Missing (404) for a pipeline
    that is not there, ValidationError (400) for an owner who is no one."""
    leads = Lead.objects.select_related("owner", "pipeline")
    key = request.GET.get("pipeline", "")
    if key:
        if not Pipeline.objects.filter(key=key).exists():
            raise Missing(f"pipeline: no pipeline {key!r}")
        leads = leads.filter(pipeline__key=key)
    owner_name = request.GET.get("owner", "")
    owner = None
    if owner_name:
        owner = User.objects.filter(username=owner_name).first()
        if owner is None:
            raise ValidationError(
                f"owner: there is no user {owner_name!r}; pick one from the owner list",
                field="owner",
            )
        leads = leads.filter(owner=owner)
    return leads, key, owner


def _order(order: tuple[str, str]) -> list[OrderBy]:
    """The section's order with leads without a value last, on every
    database (SQLite and PostgreSQL put NULL at opposite ends)."""
    return [
        F(name.lstrip("-")).desc(nulls_last=True)
        if name.startswith("-")
        else F(name).asc(nulls_last=True)
        for name in order
    ]


def _after(order: tuple[str, str], place: Place) -> Q:
    """The leads after `place` in `order` (a time column, then the id),
    those without a time last."""
    name, key = order
    field = name.lstrip("-")
    beyond = "lt" if name.startswith("-") else "gt"
    by_id = Q(**{f"id__{'lt' if key.startswith('-') else 'gt'}": place.pk})
    if place.at is None:
        return Q(**{f"{field}__isnull": True}) & by_id
    return (
        Q(**{f"{field}__{beyond}": place.at})
        | Q(**{field: place.at}) & by_id
        | Q(**{f"{field}__isnull": True})
    )


@dataclass
class InboxSection:
    """One of the inbox's lists: a page of its rows, how many of the list
    come before it (`before`) and how many the whole list holds."""

    status: str
    title: str
    count: int
    before: int
    rows: list[tuple[Lead, Window]]

    @property
    def first(self) -> int:
        """The position of the page's first row in the list, from 1."""
        return self.before + 1

    @property
    def last(self) -> int:
        return self.before + len(self.rows)

    @property
    def more(self) -> int:
        """How many come after this page."""
        return max(0, self.count - self.last)

    @property
    def next_place(self) -> str:
        """Where the next page starts, as the "more" link writes it."""
        lead = self.rows[-1][0]
        name = SECTION_ORDER[self.status][1][0].lstrip("-")
        return str(Place(getattr(lead, name), lead.pk))


def _inbox_section(
    leads: QuerySet[Lead],
    status: str,
    count: int,
    now: dt.datetime,
    windows: dict[int, int],
    after: Place | None = None,
) -> InboxSection:
    """The first INBOX_ROWS of the section for `status` after `after` (from
    the start without it), in its order: one query, one more to count what
    comes before the page when `after` is given, and one per pipeline's
    window not yet read."""
    title, order = SECTION_ORDER[status]
    section = leads.filter(status=status)
    before = 0
    if after is not None:
        section = section.filter(_after(order, after))
        before = max(0, count - section.count())
    rows = section.order_by(*_order(order))[:INBOX_ROWS]
    return InboxSection(
        status,
        title,
        count,
        before,
        [(lead, _window(lead, now, windows)) for lead in rows],
    )


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The open leads, a section per status, the first INBOX_ROWS of each
    with a link to the rest (`inbox_more`)."""
    try:
        leads, key, owner = _inbox_leads(request)
    except ValidationError as error:
        return refused(request, 400, error.message)
    now = timesource.now()
    counts = dict(
        leads.filter(status__in=Lead.OPEN)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    windows: dict[int, int] = {}
    sections = [
        _inbox_section(leads, status, counts.get(status, 0), now, windows)
        for status, _, _ in SECTIONS
    ]
    pipelines = _pipelines()
    context = {
        "pipelines": pipelines,
        "pipeline_key": key,
        "owner": owner,
        "people": by_display_name(User.objects.filter(is_active=True)),
        "sections": sections,
        "spooled": spool.waiting_count(),
        "notices": LeadNotice.objects.filter(
            user=request.user, read_at__isnull=True
        ).select_related("lead__pipeline", "deal__pipeline")[:20],
        "now": now,
    }
    context["zone"] = _with_zones(
        context["notices"],
        [lead for section in sections for lead, _ in section.rows],
        [p for p in pipelines if p.key == key] if key else pipelines,
    )
    return render(request, "leads/inbox.html", context)


@login_required
@never_cache
def inbox_csv(request: HttpRequest) -> HttpResponse:
    """The inbox's leads as a CSV file: the open ones (new, assigned,
    answered) its filters choose, read by the inbox's own filter reader
    (`_inbox_leads`), so the file holds what the inbox shows whoever is
    signed in, and no more. Other parameters (a status) are not read."""
    try:
        leads, key, _ = _inbox_leads(request)
    except ValidationError as error:
        return refused(request, 400, error.message)
    pipelines = tuple(p for p in _pipelines() if p.key == key or not key)
    export = LeadExport(pipelines, tuple(Lead.OPEN))
    lines = lead_csv(export, leads.filter(status__in=Lead.OPEN))
    zone = ZoneInfo(shown_zone(pipelines))
    day = timesource.now().astimezone(zone).date().isoformat()
    return csv_download(lines, f"leads-{key or 'all'}-{day}.csv")


def _with_zones(notices: Any, leads: list[Lead], pipelines: list[Pipeline]) -> str:
    """Give each of the inbox's notices and leads `zone`, the time zone its
    time is shown in: its pipeline's (a notice's lead's or deal's), by
    `shown_zone`'s rule, as on the lead's own page; return the page's zone,
    that of the `pipelines` shown. Reads nothing the rows have not."""
    for lead in leads:
        lead.zone = shown_zone([lead.pipeline])
    for notice in notices:
        about = notice.lead or notice.deal
        notice.zone = shown_zone([about.pipeline] if about is not None else [])
    return shown_zone(pipelines)


@login_required
def inbox_more(request: HttpRequest) -> HttpResponse:
    """Further leads of one of the inbox's sections
    (`?section=STATUS&after=TIME,ID`, with the inbox's filters): the rows
    after the last one the link's page showed, for htmx to put in place of
    the "more" row, a whole page without it."""
    try:
        leads, key, owner = _inbox_leads(request)
        status = request.GET.get("section", "")
        if status not in SECTION_ORDER:
            raise ValidationError(
                f"section must be one of {', '.join(SECTION_ORDER)}", field="section"
            )
        text = request.GET.get("after", "")
        after = read_place(text, "the list") if text else None
    except ValidationError as error:
        return refused(request, 400, error.message)
    count = leads.filter(status=status).count()
    section = _inbox_section(leads, status, count, timesource.now(), {}, after)
    context = {"section": section, "owner": owner, "pipeline_key": key}
    pipelines = _pipelines()
    shown = [p for p in pipelines if p.key == key] if key else pipelines
    context["zone"] = _with_zones([], [lead for lead, _ in section.rows], shown)
    template = "leads/_inbox_rows.html" if request.htmx else "leads/inbox_more.html"
    return render(request, template, context)


@login_required
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _lead_page(request, lead_id)


def _lead_page(
    request: HttpRequest,
    lead_id: int,
    *,
    status: int = 200,
    refusal: str = "",
    typed: dict[str, dict[str, str]] | None = None,
) -> HttpResponse:
    """The lead's page; after a refused form, with the refusal above the
    forms and, in `typed` under the form's name, what that form sent, so
    the person corrects it rather than typing it again."""
    lead = get_object_or_404(
        Lead.objects.select_related("pipeline", "owner", "deal", "merged_into"),
        pk=lead_id,
    )
    decisions = DedupDecision.objects.filter(lead=lead) | DedupDecision.objects.filter(
        source_lead=lead
    )
    context = {
        "lead": lead,
        "window": window_of(lead, timesource.now(), intake_window(lead.pipeline)),
        "response_span": response_span(lead),
        "assignments": lead.assignments.select_related("owner", "by"),
        "activities": lead.activities.exclude(
            kind=LeadActivity.Kind.TASK
        ).select_related("by"),
        "tasks": lead.activities.filter(kind=LeadActivity.Kind.TASK)
        .select_related("done_by")
        .order_by("done", "due_at", "id"),
        "decisions": _splittable(
            decisions.select_related(*DECISION_RELATED),
            request.user,
        ),
        "people": by_display_name(User.objects.filter(is_active=True)),
        "kinds": [("call", "Call"), ("email", "Email"), ("meeting", "Meeting")]
        + [("note", "Note")],
        "may_manage": request.user.is_manager,
        "may_act": request.user.is_manager or request.user.pk == lead.owner_id,
        "stages": list(active_stages(lead.pipeline)),
        "refusal": refusal,
        "typed": typed or {},
        # The lead as this page shows it, sent back by every action's form;
        # after a refusal the page shows the lead as it is now, so the
        # current version (the edit form's own: `_edit_form`).
        "version": lead_version(lead),
    }
    context["offers"] = _offers_shown(lead)
    context["possibly_same"] = similar.possibly_same(lead)
    context["edit"], context["edit_version"] = _edit_form(
        lead, (typed or {}).get("edit"), stale=status == Conflict.status
    )
    # Times read in the pipeline's zone, which the page names, as on a deal.
    zone = calendar_for(lead.pipeline).zone
    context["zone"] = zone.key
    with timezone.override(zone):
        return render(request, "leads/lead.html", context, status=status)


@dataclass
class OfferShown:
    """What one repeat inquiry still offers the lead, as its page lists it:
    (field, label, value) rows."""

    inquiry: int
    at: dt.datetime
    channel: str
    rows: list[tuple[str, str, str]]


def _offers_shown(lead: Lead) -> list[OfferShown]:
    return [
        OfferShown(
            offer.inquiry,
            offer.at,
            offer.channel,
            [
                (name, LABELS.get(name, name.capitalize()), str(value))
                for name, value in offer.values.items()
            ],
        )
        for offer in offers.pending_offers(lead)
    ]


@login_required
@require_POST
def lead_offer(request: HttpRequest, lead_id: int, inquiry_id: int) -> HttpResponse:
    """Take what a repeat inquiry offers the lead (`offers.apply_offer`):
    every value it still offers, or the one `field` posted names, as an edit
    by the person, on the version the page showed."""
    field = request.POST.get("field", "")
    return _act(
        request,
        lead_id,
        "offer",
        "Lead saved with the values the inquiry offered.",
        lambda: offers.apply_offer(
            lead_id,
            inquiry_id,
            by=request.user,
            version=request.POST.get("version", ""),
            fields=[field] if field else [],
        ),
    )


@dataclass
class EditInput:
    """One input of a lead's edit form."""

    name: str
    label: str
    value: str
    max_length: int | None
    inputmode: str = ""
    # After a 409: the field changed meanwhile (the input shows it as it is
    # now), and what the person had typed into it, when they had changed it.
    changed: bool = False
    typed: str | None = None


# The keyboard a phone shows for the edit form's inputs that are not words.
# Inputs stay type="text": a browser's own check of type="email" refuses
# the internationalised addresses a capture takes ("jörg@ümlaut.de").
_INPUTMODES = {
    "email": "email",
    "phone": "tel",
    "company_size": "numeric",
    "value": "decimal",
}


# Inputs without a maxlength: a browser would cut "Germany" to "Ge" (Georgia)
# and "Euro" to "Eur", where the capture asks for the code instead.
_READ_AS_CODES = ("country", "currency")


def _edit_form(
    lead: Lead, typed: dict[str, str] | None, *, stale: bool
) -> tuple[list[EditInput], str]:
    """The edit form's inputs and the version it sends back: what the lead
    holds, on its version; after a refusal, what the form sent, on the
    version it was made on. After a 409 (`stale`), the fields changed since
    that version show what they hold now, each saying so with what the
    person typed into it, the others keep what was typed, and the form
    carries the current version: Save then applies the edit knowingly."""
    now = _edit_values(lead)
    if typed is None:
        return _edit_inputs(now), lead_version(lead)
    seen = typed.get("version", "")
    changed = changed_since(seen, lead, EDITABLE) if stale and is_version(seen) else []
    if not changed:
        return _edit_inputs(typed), seen or lead_version(lead)
    inputs = _edit_inputs({**typed, **{name: now[name] for name in changed}})
    for one in inputs:
        if one.name in changed:
            one.changed = True
            mine = typed.get(one.name, "")
            if not held_at(seen, one.name, mine) and mine != now[one.name]:
                one.typed = mine
    return inputs, lead_version(lead)


def _edit_inputs(shown: dict[str, str]) -> list[EditInput]:
    return [
        EditInput(
            name,
            LABELS.get(name, name.capitalize()),
            shown.get(name, ""),
            None if name in _READ_AS_CODES else LIMITS.get(name),
            _INPUTMODES.get(name, ""),
        )
        for name in EDITABLE
    ]


def _edit_values(lead: Lead) -> dict[str, str]:
    """The lead's editable fields as its edit form shows them."""
    return {
        name: "" if getattr(lead, name) is None else str(getattr(lead, name))
        for name in EDITABLE
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def lead_edit(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Save the lead's edit form. Only the inputs that differ from what the
    lead holds are sent to `edit_lead`, so that a value it holds is never
    read again from the way the form shows it; the version the form showed
    guards against replacing an edit saved meanwhile (409 naming the
    fields, `_edit_form`). Refused, the page again with what was typed.
    Loaded (the address a refusal leaves in the browser), the lead's form."""
    if request.method != "POST":
        return redirect(reverse("leads:lead", args=[lead_id]) + "#edit")
    lead = get_object_or_404(Lead, pk=lead_id)
    stored = _edit_values(lead)
    changes = {
        name: request.POST[name]
        for name in EDITABLE
        if name in request.POST and request.POST[name] != stored[name]
    }
    try:
        edit_lead(
            lead_id, changes, by=request.user, version=request.POST.get("version", "")
        )
    except DealgateError as exc:
        return _lead_page(
            request,
            lead_id,
            status=_refusal_status(exc),
            refusal=_edit_refusal(exc, lead_id, request.POST.get("version", "")),
            typed={"edit": request.POST.dict()},
        )
    messages.success(request, "Lead saved.")
    return _back(lead_id)


def _edit_refusal(error: DealgateError, lead_id: int, seen: str) -> str:
    """Why an edit was refused; for fields changed since the form's version,
    what the page now shows and how to go on."""
    if not isinstance(error, Conflict) or not is_version(seen):
        return refusal_text(error)
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None or not lead.is_open:
        return refusal_text(error)
    changed = changed_since(seen, lead, EDITABLE)
    if not changed:
        return refusal_text(error)
    return (
        f"Not saved: {', '.join(changed)} changed meanwhile. The form shows the "
        "lead as it is now, with what you typed beside each field that changed; "
        "your other changes are still in it. Save again to apply it."
    )


def _back(lead_id: int) -> HttpResponse:
    return redirect(reverse("leads:lead", args=[lead_id]))


def _refusal_status(error: DealgateError) -> int:
    """The status of a page shown again after `error` refused its form: the
    error's own, as on a deal's page (422 for what was typed, 403, 409),
    except that a thing a form's input names and that does not exist ("lead
    99" to merge into) is a 422 about that input, not a missing page."""
    if isinstance(error, NotFound) and error.field:
        return ValidationError.status
    return error.status


def _act(
    request: HttpRequest, lead_id: int, form: str, done: str, call: Any
) -> HttpResponse:
    """Call the service for the lead page's form `form`: done, back to the
    page with `done`; refused, the page again, saying why, with what the
    form sent and the refusal's status, as a deal's page answers."""
    try:
        result = call()
    except DealgateError as exc:
        return _lead_page(
            request,
            lead_id,
            status=_refusal_status(exc),
            refusal=exc.message,
            typed={form: request.POST.dict()},
        )
    messages.success(request, done)
    return result if isinstance(result, HttpResponse) else _back(lead_id)


def _shown(request: HttpRequest) -> str | None:
    """The version of the lead the posting page showed (`versions`): an
    action on a lead changed since is refused, naming what changed. A form
    without one (sent by hand) acts on the lead as it is, as the API does."""
    return request.POST.get("version") or None


@login_required
@require_POST
def lead_task_done(request: HttpRequest, lead_id: int, task_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        "task",
        "Task done.",
        lambda: services.complete_lead_task(
            task_id, by=request.user, lead_id=lead_id, version=_shown(request)
        ),
    )


@login_required
@require_POST
def lead_activity(request: HttpRequest, lead_id: int) -> HttpResponse:
    post = request.POST
    return _act(
        request,
        lead_id,
        "activity",
        "Activity recorded.",
        lambda: services.record_response(
            lead_id,
            kind=post.get("kind", ""),
            by=request.user,
            subject=post.get("subject", ""),
            body=post.get("body", ""),
            outbound=post.get("outbound") == "on",
        ),
    )


@login_required
@require_POST
def lead_assign(request: HttpRequest, lead_id: int) -> HttpResponse:
    username = request.POST.get("owner", "")

    def assign() -> None:
        owner = None
        if username:
            owner = User.objects.filter(username=username).first()
            if owner is None:
                raise ValidationError(
                    f"owner: there is no user {username!r}; pick one from the list",
                    field="owner",
                )
        services.assign_lead(
            lead_id,
            owner,
            by=request.user,
            note=request.POST.get("note", ""),
            version=_shown(request),
        )

    done = "Lead assigned." if username else "Lead routed by the rules."
    return _act(request, lead_id, "assign", done, assign)


@login_required
@require_POST
def lead_convert(request: HttpRequest, lead_id: int) -> HttpResponse:
    def convert() -> HttpResponse:
        stage = request.POST.get("stage", "")
        deal = services.convert_lead(
            lead_id, by=request.user, stage=stage, version=_shown(request)
        )
        return redirect(reverse("deal", args=[deal.pk]))

    return _act(request, lead_id, "convert", "Lead converted into a deal.", convert)


@login_required
@require_POST
def lead_disqualify(request: HttpRequest, lead_id: int) -> HttpResponse:
    return _act(
        request,
        lead_id,
        "disqualify",
        "Lead disqualified.",
        lambda: services.disqualify_lead(
            lead_id,
            request.POST.get("reason", ""),
            by=request.user,
            version=_shown(request),
        ),
    )


@login_required
@require_POST
def lead_merge(request: HttpRequest, lead_id: int) -> HttpResponse:
    target = request.POST.get("into", "").strip()

    def merge() -> None:
        kind, _, number = target.partition(" ")
        # Plain digits ("²" is a digit to isdigit, not to int), and not
        # thousands of them; a number past any key is the service's to call
        # not found.
        plain = number.isascii() and number.isdigit() and len(number) <= 30
        if kind not in ("lead", "deal") or not plain:
            raise ValidationError(
                'say what to merge into: "lead 12" or "deal 7"', field="into"
            )
        into = {f"into_{kind}": int(number)}
        services.merge_lead(lead_id, by=request.user, version=_shown(request), **into)

    return _act(request, lead_id, "merge", f"Lead merged into {target}.", merge)


@login_required
@require_POST
def decision_split(request: HttpRequest, decision_id: int) -> HttpResponse:
    """Split a decision. Done twice (a second click, or another person
    first), back to the page it came from, which shows it split; any other
    refusal shows the decisions again, saying why, with its status."""
    try:
        lead = services.split_lead(decision_id, by=request.user)
    except Conflict as exc:
        messages.error(request, exc.message)
        default = reverse("leads:decisions")
        return redirect_back(request, request.POST.get("back"), default)
    except DealgateError as exc:
        return _decisions_page(request, status=exc.status, refusal=exc.message)
    messages.success(request, f"Split: lead {lead.pk} stands on its own.")
    return _back(lead.pk)


@login_required
def decisions(request: HttpRequest) -> HttpResponse:
    return _decisions_page(request)


def _decisions_page(
    request: HttpRequest, *, status: int = 200, refusal: str = ""
) -> HttpResponse:
    rows = DedupDecision.objects.select_related(*DECISION_RELATED, "pipeline")[:200]
    decisions = _splittable(rows, request.user)
    for decision in decisions:
        # Its pipeline's zone, as on the lead's page (`shown_zone`).
        decision.zone = shown_zone([decision.pipeline])
    context = {
        "decisions": decisions,
        "refusal": refusal,
        "zone": shown_zone({d.pipeline_id: d.pipeline for d in decisions}.values()),
    }
    return render(request, "leads/decisions.html", context, status=status)


# What a listed decision shows and its Split asks of: the lead it wrote on
# and the deal that lead became since (a split removes the note there too).
DECISION_RELATED = ("lead", "lead__deal", "deal", "source_lead", "by", "undone_by")


def _splittable(rows: Any, user: User) -> list[DedupDecision]:
    """The decisions, each with `may_split`: whether to offer its Split,
    asked for all of them at once (a fixed number of queries)."""
    rows = list(rows)
    for row, may in zip(rows, services.may_split_each(rows, user), strict=True):
        row.may_split = may
    return rows


@login_required
@require_POST
def notices_read(request: HttpRequest) -> HttpResponse:
    services.mark_notices_read(request.user)
    return redirect(reverse("leads:inbox"))


@login_required
def lead_new(request: HttpRequest) -> HttpResponse:
    """The New lead page. While another writer (an import) holds SQLite, a
    lead that passes every check is kept in the spool as the website form's
    is (dealgate.leads.spool), and the page says it was received and will
    appear once the database is free: it is captured then, at the time it
    was posted, with the signed-in person as its creator. The form carries
    a receipt, so that sending the same form again keeps nothing twice."""
    pipelines = _pipelines()
    context: dict[str, Any] = {
        "pipelines": pipelines,
        "values": {},
        "limits": LIMITS,
        "fields": ENTRY_FIELDS,
        "receipt": uuid.uuid4().hex,
    }
    if request.method != "POST":
        return render(request, "leads/new.html", context)
    data = {f: request.POST.get(f, "") for f in ENTRY_FIELDS + ("pipeline",)}
    posted = request.POST.get("receipt", "")
    if _FORM_RECEIPT.fullmatch(posted):
        context["receipt"] = posted  # shown again with the values, if refused
    try:
        result = spool.capture_or_keep(
            {k: v for k, v in data.items() if v.strip()},
            source="web",
            by=request.user,
            receipt=_spool_receipt(request.user, context["receipt"]),
        )
    except DealgateError as exc:
        context.update(values=data, error=exc)
        return render(request, "leads/new.html", context, status=_refusal_status(exc))
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        # Not even the spool could keep it (full, a disk error): the page
        # again with everything typed, saying so, rather than a bare 503.
        log.warning(
            "new lead by %s refused: the database is busy and the lead spool "
            "could not keep it (%s)",
            request.user.username,
            exc,
        )
        context.update(values=data, error=_NOT_KEPT)
        response = render(request, "leads/new.html", context, status=_NOT_KEPT.status)
        response["Retry-After"] = str(RETRY_AFTER)
        return response
    if isinstance(result, spool.Kept):
        # 202: received, not yet created. A fresh form for the next call.
        # Its time in its pipeline's zone, as the lead's page will show it.
        zone = shown_zone(p for p in pipelines if p.key == result.pipeline)
        context.update(kept=result, receipt=uuid.uuid4().hex, zone=zone)
        return render(request, "leads/new.html", context, status=202)
    if result.created or result.decision is None:
        if not result.created:
            messages.info(request, result.reason)
        if result.lead is not None:
            return _back(result.lead.pk)
        # Sent before and joined to a deal then (or, split since, to nothing).
        if result.deal is not None:
            return redirect(reverse("deal", args=[result.deal.pk]))
        return redirect(reverse("leads:inbox"))
    messages.info(request, f"Not a new lead: {result.decision.reason}; added there.")
    if result.decision.deal_id:
        return redirect(reverse("deal", args=[result.decision.deal_id]))
    return _back(result.decision.lead_id)


_FORM_RECEIPT = re.compile(r"[0-9a-f]{32}")
_NOT_KEPT = Busy(
    "the database is busy with another write, such as an import, and this "
    "lead could not be kept to be saved later: nothing was saved. What you "
    "typed is still here; send it again in a minute"
)


def _spool_receipt(user: User, form_receipt: str) -> str | None:
    """The spool receipt of a New lead form: its own, under the person who
    sends it, so that nobody else's form can claim (and so drop) their lead.
    None, for a new one, when the form carries none that reads."""
    if not _FORM_RECEIPT.fullmatch(form_receipt):
        return None
    return hashlib.sha256(f"web:{user.pk}:{form_receipt}".encode()).hexdigest()[:32]


def _is_admin(user: User) -> bool:
    return user.is_superuser or user.role == User.Role.ADMIN


def _posted_rules(text: str, pipeline: Pipeline, clear: bool) -> list[Any]:
    """The `[[routing]]` tables of the editor's text. Anything else in it is
    refused (a misspelt table name would otherwise read as no rules), and so
    is an empty text while the pipeline has rules, unless `clear` says to
    remove them all: without rules every new lead waits unassigned."""
    parsed = tomllib.loads(text)
    other = sorted(key for key in parsed if key != "routing")
    if other:
        raise ValidationError(
            f"only [[routing]] tables belong here; found {', '.join(other)}"
        )
    items = parsed.get("routing", [])
    had = (pipeline.settings or {}).get("routing") or []
    if not items and had and not clear:
        raise ValidationError(
            f"this removes all {len(had)} routing rules, and every new lead would "
            "wait unassigned in the inbox; tick 'Remove all rules' to do that"
        )
    return items


@login_required
def routing_rules(request: HttpRequest) -> HttpResponse:
    """An admin's editor for the `[[routing]]` rules of one pipeline."""
    if not _is_admin(request.user):
        raise PermissionDenied("only an admin may edit routing rules")
    try:
        pipeline = services.pipeline_for_capture(
            request.GET.get("pipeline") or request.POST.get("pipeline")
        )
    except NotFound as exc:
        raise Missing(exc.message) from None
    except DealgateError:
        pipeline = _pipelines()[0]
    editor = {"text": dump_rules(pipeline), "seen": rules_digest(pipeline)}
    status = 200
    if request.method == "POST":
        refused = _save_posted_rules(request, pipeline)
        if refused is None:
            messages.success(request, "Routing rules saved.")
            return redirect(f"{reverse('leads:routing')}?pipeline={pipeline.key}")
        status, editor = refused
    now = timesource.now()
    people = User.objects.filter(is_active=True).select_related("availability", "team")
    loads = dict(
        Lead.objects.filter(status__in=Lead.OPEN, owner__isnull=False)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    availability = [
        (
            person,
            loads.get(person.pk, 0),
            off_reason(
                person,
                now,
                loads.get(person.pk, 0),
                pipeline.calendar,
                zone=calendar_for(pipeline).timezone,
            ),
        )
        for person in by_display_name(people)
    ]
    context = {
        "pipeline": pipeline,
        "pipelines": _pipelines(),
        **editor,
        "availability": availability,
        "has_availability": Availability.objects.exists(),
    }
    return render(request, "leads/routing.html", context, status=status)


def _save_posted_rules(
    request: HttpRequest, pipeline: Pipeline
) -> tuple[int, dict[str, Any]] | None:
    """Save the rules the editor posted, made on the rules whose digest it
    sends as `seen`: None when saved, else the refusal's status and what the
    editor shows again. Always what was typed; after a 409 (another admin saved
    meanwhile) also the rules as they are now, with their digest, so that
    saving again replaces them knowingly."""
    text = request.POST.get("rules", "")
    seen = request.POST.get("seen", "").strip()
    try:
        if not seen:
            raise ValidationError(
                "the form did not say which rules it showed; reload the page",
                field="seen",
            )
        items = _posted_rules(text, pipeline, request.POST.get("clear") == "yes")
        save_rules(pipeline, items, seen=seen)
    except tomllib.TOMLDecodeError as exc:
        return 422, {"text": text, "seen": seen, "error": f"not valid TOML: {exc}"}
    except Conflict as exc:
        pipeline.refresh_from_db(fields=["settings"])
        return 409, {
            "text": text,
            "seen": rules_digest(pipeline),
            "current": dump_rules(pipeline) or "# no routing rules",
            "error": f"{exc.message}. Here they are as they are now, and below "
            "them what you typed: save again to replace them with it",
        }
    except DealgateError as exc:
        return exc.status, {"text": text, "seen": seen, "error": exc.message}
    return None


@login_required
def report(request: HttpRequest) -> HttpResponse:
    try:
        pipeline = services.pipeline_for_capture(request.GET.get("pipeline"))
    except NotFound as exc:
        raise Missing(exc.message) from None
    except DealgateError:
        pipeline = _pipelines()[0]
    channel = request.GET.get("channel") or None
    context = {
        "pipeline": pipeline,
        "pipelines": _pipelines(),
        "channel": channel,
        "report": lead_report(pipeline, channel=channel),
    }
    return render(request, "leads/report.html", context)
