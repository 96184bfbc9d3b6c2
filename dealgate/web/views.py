"""Pages: the board, one column's further cards, and a deal with its moves."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core.numbers import MAX_ID, whole_number
from dealgate.deals import idempotency, services
from dealgate.deals.export import DealExport, deal_csv
from dealgate.deals.models import (
    TEXT_LIMITS,
    Activity,
    Deal,
    IdempotencyKey,
    StageEvent,
)
from dealgate.deals.queries import (
    NO_OWNER,
    NoOwner,
    board_for,
    column_page,
    open_deals,
    read_card_place,
    stage_age,
)
from dealgate.errors import Conflict, DealgateError, PermissionDenied, ValidationError
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.loss_reasons import LossReasons
from dealgate.pipelines.models import Pipeline

from . import deal_forms
from .downloads import csv_download
from .errors import Missing


@login_required
def board(request: HttpRequest) -> HttpResponse:
    pipelines = list(Pipeline.objects.order_by("pk"))
    if not pipelines:
        return render(request, "web/board.html", {"pipelines": []})

    chosen = _board_filters(request, pipelines)
    if isinstance(chosen, HttpResponse):
        return chosen
    pipeline, owner = chosen
    now = timesource.now()
    context = {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "owner": owner,
        "no_owner": NO_OWNER,
        "board": board_for(pipeline, owner=owner, now=now),
        "changed_later": _changed_later(pipeline, now),
    }
    return _in_zone_of(pipeline, request, "web/board.html", context)


def _in_zone_of(
    pipeline: Pipeline, request: HttpRequest, template: str, context: dict
) -> HttpResponse:
    """Render a board page with its dates (the as-of date, when each card
    entered its stage) in the pipeline's zone, which it names as `zone`, as
    the deal page, insights and Today read theirs."""
    zone = calendar_for(pipeline).zone
    context["zone"] = zone.key
    with timezone.override(zone):
        return render(request, template, context)


def _labelled(events: Iterable[StageEvent], reasons: LossReasons) -> list[StageEvent]:
    """The deal's history, each event with `loss_label`: the label of the
    loss reason it stored."""
    events = list(events)
    for event in events:
        event.loss_label = reasons.label_of(event.loss_reason)
    return events


def _changed_later(pipeline: Pipeline, now: dt.datetime) -> bool:
    """Whether the pipeline's history holds a stage change after `now`: an
    as-of date set before it. The board shows deals as they stand, not as
    they stood then, and says so."""
    return StageEvent.objects.filter(to_stage__pipeline=pipeline, at__gt=now).exists()


@login_required
@never_cache
def board_csv(request: HttpRequest) -> HttpResponse:
    """The board's deals as a CSV file: the open deals of its pipeline, its
    owner filter applied, read by the board's own query (`open_deals`), so
    the file holds what the board shows whoever is signed in, and no more.
    Other parameters (a status) are not read, as the board reads none."""
    chosen = _board_filters(request, list(Pipeline.objects.order_by("pk")))
    if isinstance(chosen, HttpResponse):
        return chosen
    pipeline, owner = chosen
    now = timesource.now()
    export = DealExport((pipeline,), status=Deal.Status.OPEN, owner=owner)
    lines = deal_csv(export, now, open_deals(pipeline, owner))
    day = now.astimezone(calendar_for(pipeline).zone).date()
    return csv_download(lines, f"deals-{pipeline.key}-{day.isoformat()}.csv")


@login_required
def board_column(request: HttpRequest) -> HttpResponse:
    """More cards of one column (`?stage=KEY&after=TIME,ID`, with the board's
    filters): those after the last card the link's page showed, a fragment
    for htmx, a whole page without it."""
    chosen = _board_filters(request, list(Pipeline.objects.order_by("pk")))
    if isinstance(chosen, HttpResponse):
        return chosen
    pipeline, owner = chosen
    stage = pipeline.stages.filter(key=request.GET.get("stage", "")).first()
    if stage is None:
        raise Missing(
            f"pipeline {pipeline.key} has no stage {request.GET.get('stage')!r}"
        )
    text = request.GET.get("after", "")
    try:
        after = read_card_place(text) if text else None
    except ValidationError as error:
        return _bad_filter(request, error.message)

    page = column_page(stage, owner=owner, now=timesource.now(), after=after)
    context = {"pipeline": pipeline, "owner": owner, "page": page}
    template = "web/_column_page.html" if request.htmx else "web/column.html"
    return _in_zone_of(pipeline, request, template, context)


@login_required
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _deal_page(request, _deal(deal_id))


@login_required
@require_POST
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Move a deal from its page's form, or from a drop on the board.

    The board asks for JSON (Accept: application/json) and gets the refusal
    in words; the page gets itself back with the refusal on it, or a redirect.
    """
    posted = request.POST
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    deal = _deal(deal_id)
    to = posted.get("to", "")
    texts = {
        field: posted.get(field, "")
        for field in ("loss_reason", "loss_note", "override_reason")
    }
    try:
        # A value the move does not use is refused, named as the form labels
        # it, not dropped: the page's script sends none (deal_move.js), so
        # one comes only from a page without it, or an older page.
        services.refuse_unused_move_fields(
            to, by=request.user, names=MOVE_LABELS, **texts
        )
        services.move_deal(
            deal_id,
            to,
            by=request.user,
            expected_version=_version(posted),
            source="board" if wants_json else "web",
            refuse_unneeded_override=True,
            names=MOVE_LABELS,
            **texts,
        )
    except DealgateError as error:
        message = _refusal(error)
        if wants_json:
            unmet = error.unmet if isinstance(error, services.MoveRefused) else []
            return JsonResponse(
                {"ok": False, "message": message, "unmet": unmet},
                status=error.status,
            )
        return _deal_page(
            request,
            deal,
            status=error.status,
            move_error=message,
            move_unmet=getattr(error, "unmet", []),
            move_posted=posted,
        )
    if wants_json:
        return JsonResponse({"ok": True})
    return redirect("deal", deal_id=deal_id, permanent=False)


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def deal_new(request: HttpRequest) -> HttpResponse:
    """The new-deal form of a pipeline (`?pipeline=KEY`, the first by
    default); posted, the deal is created through `create_deal` and its page
    shown, or the form comes back with what was refused.

    The form carries a one-time token: sent again (a double click, a resend
    after the page hung), it shows the deal it made and makes no other.
    """
    pipeline = _chosen_pipeline(request, list(Pipeline.objects.order_by("pk")))
    if request.method != "POST":
        fields = deal_forms.new_fields(pipeline, request.user)
        return _new_deal_page(request, pipeline, fields, deal_forms.new_form_token())
    new = deal_forms.read_new(pipeline, request.user, request.POST)
    token = new.token or deal_forms.new_form_token()
    if new.errors:
        return _new_deal_page(request, pipeline, new.fields, token, status=422)
    try:
        deal_id = _create_from_form(request, pipeline, new)
    except DealgateError as error:
        named = [f for f in new.fields if f.name == _input_of(error)]
        for f in named:
            f.error = error.detail  # shown after the input's label
        if error.field == deal_forms.FORM_TOKEN:
            token = deal_forms.new_form_token()  # a damaged token: a fresh form
        return _new_deal_page(
            request,
            pipeline,
            new.fields,
            token,
            status=error.status,
            error="" if named else error.message,
            unmet=getattr(error, "unmet", []),
        )
    return redirect("deal", deal_id=deal_id, permanent=False)


def _create_from_form(
    request: HttpRequest, pipeline: Pipeline, new: deal_forms.NewDeal
) -> int:
    """The id of the deal the posted form makes, or made when it was sent
    before (a form from before the token, without one, makes a deal each
    time)."""
    if not new.token:
        deal = services.create_deal(
            pipeline, new.values, by=request.user, stage=new.stage, source="web"
        )
        return deal.pk
    try:
        created = idempotency.create_deal_once(
            pipeline,
            new.values,
            by=request.user,
            door=IdempotencyKey.Door.WEB,
            key=new.token,
            request=new.request,
            field=deal_forms.FORM_TOKEN,
            stage=new.stage,
            source="web",
        )
    except idempotency.KeyReused as reused:
        messages.warning(
            request,
            "This form had already made this deal; what it brought the second "
            "time was not saved. Edit the deal here, or open a new form for "
            "another deal.",
        )
        return reused.deal_id
    if created.replayed:
        messages.info(request, "This form was sent twice; it made one deal, this one.")
    return created.deal.pk


# The inputs of the deal page's activity form that show their own errors.
_ACTIVITY_INPUTS = frozenset({"kind", "subject", "tag", "due_at"})


def _input_of(error: DealgateError) -> str | None:
    """The form input a service's refusal names: "custom.seats" is the input
    "custom:seats"; a refused stage's unmet criteria go above the form."""
    name = error.field or ""
    if isinstance(error, services.MoveRefused):
        return None
    return name.replace("custom.", "custom:", 1) if name else None


def _new_deal_page(
    request: HttpRequest,
    pipeline: Pipeline,
    fields: list[deal_forms.EditField],
    token: str,
    *,
    status: int = 200,
    error: str = "",
    unmet: list[str] | None = None,
) -> HttpResponse:
    context = {
        "pipeline": pipeline,
        "fields": fields,
        "form_token": token,
        "error": error,
        "unmet": unmet or [],
    }
    return render(request, "web/new_deal.html", context, status=status)


@login_required
@require_POST
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Save the fields criteria read, guarded by the version the form showed."""
    deal = _deal(deal_id)
    edit = deal_forms.read_edit(deal, request.user, request.POST)
    if edit.errors:
        return _deal_page(request, deal, status=422, edit=edit.fields)
    try:
        services.update_deal(
            deal_id,
            edit.changes,
            by=request.user,
            expected_version=_version(request.POST),
            reason=edit.reason,
        )
    except DealgateError as error:
        # A refusal about one input is shown at that input, after its label,
        # as the form's own checks are; the rest above the form.
        named = [f for f in edit.fields if f.name == _input_of(error)]
        for f in named:
            f.error = error.detail
        return _deal_page(
            request,
            deal,
            status=error.status,
            edit=edit.fields,
            edit_error="" if named else _refusal(error),
        )
    return redirect("deal", deal_id=deal_id, permanent=False)


@login_required
@require_POST
def deal_activity(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Log a call, email, meeting or note that just happened, or a task."""
    deal = _deal(deal_id)
    posted = request.POST
    kind = posted.get("kind", "")
    error = field = ""
    status = 422
    due_at = None
    if kind == "task" or posted.get("due", "").strip():
        due_at, error = _due(posted.get("due", ""), deal)
        field = "due_at" if error else ""
    if not error:
        try:
            services.log_activity(
                deal_id,
                kind=kind,
                subject=posted.get("subject", ""),
                tag=posted.get("tag", ""),
                due_at=due_at,
                by=request.user,
            )
        except DealgateError as refused:
            field = refused.field if refused.field in _ACTIVITY_INPUTS else ""
            # At its input the form's label names the field; above the form
            # the message must.
            error = refused.detail if field else refused.message
            status = refused.status
    if error:
        return _deal_page(
            request,
            deal,
            status=status,
            activity={**posted.dict(), "error": error, "field": field},
        )
    return redirect("deal", deal_id=deal_id, permanent=False)


@login_required
@require_POST
def deal_task_done(request: HttpRequest, deal_id: int, task_id: int) -> HttpResponse:
    """Mark an open task of the deal done, on the version of the deal the
    page showed: a deal changed since, or a task someone else marked done
    meanwhile, is a 409 saying so, with the deal as it is now."""
    deal = _deal(deal_id)
    try:
        services.complete_task(
            deal_id, task_id, by=request.user, expected_version=_version(request.POST)
        )
    except DealgateError as refused:
        if _done_by_them(refused, task_id, request.user):
            # Their own second click: the page shows the task done.
            return redirect("deal", deal_id=deal_id, permanent=False)
        message = refused.message if refused.field == "task" else _refusal(refused)
        return _deal_page(
            request,
            deal,
            status=refused.status,
            activity={"kind": "call", "error": message, "field": ""},
        )
    return redirect("deal", deal_id=deal_id, permanent=False)


def _done_by_them(error: DealgateError, task_id: int, user: User) -> bool:
    """Whether `error` refused a task that `user` had marked done already."""
    if not isinstance(error, Conflict) or error.field != "task":
        return False
    return Activity.objects.filter(pk=task_id, done=True, done_by=user).exists()


def _due(text: str, deal: Deal) -> tuple[dt.datetime | None, str]:
    """A task's due time: the end of that day's working hours in the
    pipeline's calendar (16:00 on a Friday that closes then); 17:00 on a
    day without hours, such as a holiday."""
    text = text.strip()
    if not text:
        return None, "a task needs a due date, a day like 2026-07-31"
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, "a due date is a day like 2026-07-31 (due when work ends that day)"
    calendar = calendar_for(deal.pipeline)
    try:
        hours = calendar.ranges_on(day)
    except (ValueError, OverflowError):
        hours = ()  # a year outside the holidays' tables: the service refuses it
    minutes = hours[-1][1] if hours else 17 * 60
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=calendar.zone)
    # Wall-clock minutes after local midnight, so across a change of the
    # clocks the hour is still the one on the wall.
    local = start.replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    return local.replace(tzinfo=calendar.zone), ""


STALE = "This deal changed since you opened it; reload the page and try again."

# The move form's texts as its labels name them, for a refusal on the page.
MOVE_LABELS = {
    "loss_reason": "Loss reason",
    "loss_note": "Loss note",
    "override_reason": "Override reason",
}


def _refusal(error: DealgateError) -> str:
    # The service's conflict message speaks to API callers in version numbers;
    # a person needs to know only that they must reload.
    if isinstance(error, Conflict):
        return STALE
    return error.message


def _version(posted: QueryDict) -> int:
    try:
        return whole_number(posted.get("version", ""), "version", most=MAX_ID)
    except ValidationError:
        # Never move or save without the version the person saw: that is the
        # one guard against overwriting someone else's change.
        raise ValidationError("the form did not say which version it showed") from None


def _deal(deal_id: int) -> Deal:
    return get_object_or_404(
        Deal.objects.select_related(
            "pipeline",
            "stage",
            "organization",
            "contact",
            "product",
            "owner",
            "responsible",
        ),
        pk=deal_id,
    )


def _deal_page(
    request: HttpRequest,
    deal: Deal,
    *,
    status: int = 200,
    move_error: str = "",
    move_unmet: list[str] | None = None,
    move_posted: QueryDict | None = None,
    edit: list[deal_forms.EditField] | None = None,
    edit_error: str = "",
    activity: dict[str, str] | None = None,
) -> HttpResponse:
    now = timesource.now()
    age = None
    if deal.status == Deal.Status.OPEN:
        age = stage_age(
            deal.stage_entered_at,
            now,
            limit=deal.stage.age_limit_days,
            calendar=calendar_for(deal.pipeline),
        )
    posted = move_posted or QueryDict()
    reasons = LossReasons.of(deal.pipeline.loss_reasons)
    try:
        services.check_may_change(request.user, deal)
        refusal = ""
    except PermissionDenied as exc:
        refusal = exc.message
    context = {
        "deal": deal,
        # Forms only for those who may use them; others read why not.
        "refusal": refusal,
        "age": age,
        "custom": _custom_fields(deal),
        "events": _labelled(
            deal.events.select_related("from_stage", "to_stage", "by"), reasons
        ),
        "loss_label": reasons.label_of(deal.loss_reason),
        "exit_checklist": services.exit_checklist(deal, now),
        "targets": deal_forms.move_targets(deal),
        "loss_reasons": deal.pipeline.loss_reasons,
        # After a refusal the forms keep what was typed, and the version the
        # person saw: a stale form must stay stale until they reload.
        "move": {
            "to": posted.get("to", ""),
            # A reason sent by its label stays chosen in the key's option.
            "loss_reason": reasons.key_for(posted.get("loss_reason", ""))
            or posted.get("loss_reason", ""),
            "loss_note": posted.get("loss_note", ""),
            "override_reason": posted.get("override_reason", ""),
            "version": posted.get("version", deal.version),
        },
        "text_limits": TEXT_LIMITS,
        "move_error": move_error,
        "move_unmet": move_unmet or [],
        "edit_fields": edit
        if edit is not None
        else deal_forms.edit_fields(deal, request.user),
        "edit_error": edit_error,
        "may_correct_closed": services.may_correct_closed(request.user),
        "activity": activity or {"kind": "call"},
        "activity_kinds": [
            (kind, label)
            for kind, label in Activity.Kind.choices
            if kind in Activity.LOGGED
        ],
        "activities": deal.activities.select_related("by", "done_by").order_by(
            "-at", "-id"
        )[:50],
        "tags": services.criteria_tags(deal.pipeline),
        "edit_version": request.POST.get("version", deal.version)
        if edit is not None
        else deal.version,
    }
    # Times read in the pipeline's zone, which the page names.
    zone = calendar_for(deal.pipeline).zone
    context["zone"] = zone.key
    with timezone.override(zone):
        return render(request, "web/deal.html", context, status=status)


def _chosen_pipeline(request: HttpRequest, pipelines: list[Pipeline]) -> Pipeline:
    key = request.GET.get("pipeline")
    if not key:
        if not pipelines:
            raise Missing("no pipeline yet")
        return pipelines[0]
    for pipeline in pipelines:
        if pipeline.key == key:
            return pipeline
    raise Missing(f"no pipeline {key!r}")


def _board_filters(
    request: HttpRequest, pipelines: list[Pipeline]
) -> tuple[Pipeline, User | NoOwner | None] | HttpResponse:
    """The board's pipeline and owner filter, as the board, its columns' more
    links and its download read them, or the answer to a filter naming
    nothing: a pipeline no one has (404), an owner no one is (400)."""
    try:
        pipeline = _chosen_pipeline(request, pipelines)
    except Http404 as missing:
        return _bad_filter(request, f"pipeline: {missing}", status=404)
    owner = _chosen_owner(request)
    if isinstance(owner, HttpResponse):
        return owner
    return pipeline, owner


def _chosen_owner(request: HttpRequest) -> User | NoOwner | HttpResponse | None:
    """The person the board is filtered to (NO_OWNER: the deals no one owns),
    or the answer for a name that is no one's: a bad filter (400), not a
    missing board."""
    username = request.GET.get("owner")
    if not username:
        return None
    if username == NO_OWNER.username:
        return NO_OWNER
    owner = User.objects.filter(username=username).first()
    if owner is None:
        return _bad_filter(
            request,
            f"owner: there is no user {username!r}; pick one from the owner list",
        )
    return owner


def _bad_filter(request: HttpRequest, problem: str, status: int = 400) -> HttpResponse:
    """The answer to a board address whose filter names nothing there (an
    owner, a pipeline, an `after` place): the site's page with the message, escaped
    as any text is, and the way back to the whole board. htmx, asking for
    more cards of a column, gets the message alone, as plain text."""
    if request.htmx:
        return HttpResponse(problem, status=status, content_type="text/plain")
    return render(request, "web/bad_filter.html", {"problem": problem}, status=status)


def _custom_fields(deal: Deal) -> list[tuple[str, object]]:
    """The deal's custom values, labelled as the pipeline defines them.

    Values for fields the pipeline no longer defines are still shown, under
    their key, so nothing recorded disappears from the page.
    """
    labels = {
        spec["key"]: spec.get("label", spec["key"])
        for spec in deal.pipeline.custom_fields
        if isinstance(spec, dict) and "key" in spec
    }
    ordered = [key for key in labels if key in deal.custom]
    ordered += sorted(key for key in deal.custom if key not in labels)
    return [(labels.get(key, key), deal.custom[key]) for key in ordered]
