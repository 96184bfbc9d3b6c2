"""Insights pages: the overview, bottlenecks and leaks, and the weekly review.

Each page is one report (dealgate.insights.reports) rendered with its charts;
`?format=csv&table=KEY` returns one of its tables instead. Every page reads
its figures inside one transaction (`queries.session`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dealgate import timesource
from dealgate.accounts.models import Team, User, by_display_name
from dealgate.core.numbers import as_id
from dealgate.deals.models import Organization, Product
from dealgate.deals.queries import NO_OWNER
from dealgate.errors import Conflict, DealgateError, ValidationError
from dealgate.pipelines.models import Pipeline

from . import queries, reports
from . import review as rv
from .filters import PERIODS, Filters, parse_day, read_filters
from .models import WeeklyReview
from .services import ANY, DECISION_LIMIT, record_review


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    now = timesource.now()
    try:
        filters = read_filters(request.GET, now=now)
        by = request.GET.get("by") or "owner"
        filters = dataclasses.replace(filters, extra={"by": by})
        with queries.session():
            report = reports.overview(filters, now, by=by)
    except DealgateError as error:
        return _error(request, error)
    if request.GET.get("format") == "csv":
        return _csv(request, report)
    context = _context(request, report, "overview")
    context.update(
        definitions=reports.DEFINITIONS,
        breakdowns=reports.BREAKDOWNS,
        by=by,
    )
    return _page(request, "insights/overview.html", context)


@login_required
def bottlenecks(request: HttpRequest) -> HttpResponse:
    now = timesource.now()
    try:
        filters = read_filters(request.GET, now=now)
        with queries.session():
            report = reports.bottlenecks(filters, now)
    except DealgateError as error:
        return _error(request, error)
    if request.GET.get("format") == "csv":
        return _csv(request, report)
    return _page(
        request, "insights/bottlenecks.html", _context(request, report, "bottlenecks")
    )


@login_required
def review(request: HttpRequest) -> HttpResponse:
    """GET shows the week's metric; POST writes the decision, then shows it
    (or shows the page again with what was wrong)."""
    now = timesource.now()
    params = request.POST if request.method == "POST" else request.GET
    try:
        # The review is of the whole pipeline: only its key is read.
        filters = read_filters({"pipeline": params.get("pipeline", "")}, now=now)
        week = _week(params.get("week", ""))
    except DealgateError as error:
        return _error(request, error)
    form_error, status, refused = "", 200, None
    if request.method == "POST":
        try:
            return _record(request, filters, week)
        except DealgateError as error:
            form_error, status, refused = error.message, error.status, error
    try:
        with queries.session():
            page = reports.weekly_review(
                filters,
                now,
                week=week,
                metric=params.get("metric") or None,
                all_behind=request.GET.get("format") == "csv",
            )
    except DealgateError as error:
        return _error(request, error)
    filters = dataclasses.replace(
        filters, extra={"week": page.week.isoformat(), "metric": page.metric.key}
    )
    page.report.filters = filters
    if request.GET.get("format") == "csv":
        return _csv(request, page.report)
    this_week = rv.this_week(filters.facts, now)
    context = _context(request, page.report, "review")
    context.update(
        page=page,
        decided_on=rv.metric_label(page.current.metric) if page.current else "",
        metrics=rv.METRICS,
        form_error=form_error,
        typed=_typed(refused, request.POST, page.current),
        decision_limit=DECISION_LIMIT,
        previous_week=page.week - dt.timedelta(weeks=1),
        next_week=page.week + dt.timedelta(weeks=1),
        this_week=this_week,
        is_current=page.week == this_week,
        is_future=page.week > this_week,
        # The decision is a manager's or an admin's (README, Who may do what).
        may_decide=request.user.is_manager,
    )
    return _page(request, "insights/review.html", context, status=status)


def _record(
    request: HttpRequest, filters: Filters, week: dt.date | None
) -> HttpResponse:
    if week is None:
        raise ValidationError("say which week the decision is for", field="week")
    record_review(
        filters,
        week=week,
        metric=request.POST.get("metric", ""),
        decision=request.POST.get("decision", ""),
        by=request.user,
        replacing=_seen(request.POST.get("seen")),
    )
    query = filters.query(week=week.isoformat(), period="")
    return redirect(f"{reverse('insights:review')}?{query}")


def _typed(
    refused: DealgateError | None, posted: QueryDict, current: WeeklyReview | None
) -> dict[str, str] | None:
    """What a refused decision form shows again: the decision as its writer
    typed it, never the one on record, so nothing typed is lost.

    After a decision written meanwhile (Conflict) the form carries the version
    now on record: the page shows that decision in full above the form, so
    sending again is a choice made having read it. After any other refusal it
    keeps the version the writer saw, so a decision written meanwhile is
    still caught; a `seen` refused as unreadable is replaced by the one shown.
    """
    if refused is None:
        return None
    seen = posted.get("seen", "")
    if isinstance(refused, Conflict) or refused.field == "seen":
        seen = str(current.version) if current is not None else ""
    return {"decision": posted.get("decision", ""), "seen": seen}


def _seen(text: str | None) -> int | None | object:
    """The version of the decision the form showed ("" for none); a form
    from before the field was added replaces whatever is there. A form
    that posts something else (one loaded before versions, which posted a
    time) is refused: it cannot say which decision it showed."""
    if text is None:
        return ANY
    if not text:
        return None
    version = as_id(text)
    if version is None:
        raise ValidationError(
            f"seen must be the version of the decision the page showed; got "
            f"{text[:40]!r}: reload the page and write the decision again",
            field="seen",
        )
    return version


def _week(text: str) -> dt.date | None:
    return parse_day(text, "week") if text else None


def _context(request: HttpRequest, report: reports.Report, page: str) -> dict:
    filters = report.filters
    return {
        "report": report,
        "filters": filters,
        "page": page,
        "periods": [*PERIODS, "all"],
        "no_owner": NO_OWNER,
        "owners": by_display_name(User.objects.filter(is_active=True)),
        "teams": Team.objects.order_by("name"),
        "segments": Organization.objects.exclude(sector="")
        .order_by("sector")
        .values_list("sector", flat=True)
        .distinct(),
        "products": Product.objects.order_by("name"),
        "pipelines": Pipeline.objects.order_by("pk"),
        "query": filters.query(),
        "as_of": timesource.now(),
    }


def _page(
    request: HttpRequest, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Render an insights page with its times (the as-of date, when a
    decision was written) in the pipeline's zone, as its periods and weeks
    are: a time just after local midnight is not shown as the day before."""
    with timezone.override(context["filters"].facts.calendar.zone):
        return render(request, template, context, status=status)


def _csv(request: HttpRequest, report: reports.Report) -> HttpResponse:
    try:
        table = report.table(request.GET.get("table", ""))
    except DealgateError as error:
        return _error(request, error)
    response = HttpResponse(table.csv(), content_type="text/csv; charset=utf-8")
    name = f"{report.filters.pipeline.key}-{table.key}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _error(request: HttpRequest, error: DealgateError) -> HttpResponse:
    return render(request, "insights/error.html", {"error": error}, status=error.status)
