"""Pages: the board, one column's further cards, and a deal."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.deals.models import Deal
from dealgate.deals.queries import board_for, column_page, stage_age
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline


@login_required
def board(request: HttpRequest) -> HttpResponse:
    pipelines = list(Pipeline.objects.order_by("pk"))
    if not pipelines:
        return render(request, "web/board.html", {"pipelines": []})

    pipeline = _chosen_pipeline(request, pipelines)
    owner = _chosen_owner(request)
    context = {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "owner": owner,
        "board": board_for(pipeline, owner=owner, now=timesource.now()),
    }
    return render(request, "web/board.html", context)


@login_required
def board_column(request: HttpRequest) -> HttpResponse:
    """More cards of one column: a fragment for htmx, a whole page without it."""
    pipeline = _chosen_pipeline(request, list(Pipeline.objects.order_by("pk")))
    owner = _chosen_owner(request)
    stage = pipeline.stages.filter(key=request.GET.get("stage", "")).first()
    if stage is None:
        raise Http404(
            f"pipeline {pipeline.key} has no stage {request.GET.get('stage')!r}"
        )
    offset = request.GET.get("offset", "0")
    if not (offset.isascii() and offset.isdigit()):
        return HttpResponseBadRequest("offset must be a whole number of cards")

    page = column_page(stage, owner=owner, now=timesource.now(), offset=int(offset))
    context = {"pipeline": pipeline, "owner": owner, "page": page}
    template = "web/_column_page.html" if request.htmx else "web/column.html"
    return render(request, template, context)


@login_required
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = get_object_or_404(
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
    age = None
    if deal.status == Deal.Status.OPEN:
        age = stage_age(
            deal.stage_entered_at,
            timesource.now(),
            limit=deal.stage.age_limit_days,
            calendar=calendar_for(deal.pipeline),
        )
    context = {
        "deal": deal,
        "age": age,
        "custom": _custom_fields(deal),
        "events": deal.events.select_related("from_stage", "to_stage", "by"),
    }
    return render(request, "web/deal.html", context)


def _chosen_pipeline(request: HttpRequest, pipelines: list[Pipeline]) -> Pipeline:
    key = request.GET.get("pipeline")
    if not key:
        if not pipelines:
            raise Http404("no pipeline yet")
        return pipelines[0]
    for pipeline in pipelines:
        if pipeline.key == key:
            return pipeline
    raise Http404(f"no pipeline {key!r}")


def _chosen_owner(request: HttpRequest) -> User | None:
    username = request.GET.get("owner")
    if not username:
        return None
    owner = User.objects.filter(username=username).first()
    if owner is None:
        raise Http404(f"no user {username!r}")
    return owner


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
