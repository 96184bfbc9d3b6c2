"""Pages everyone signed in may read: the pipelines, one pipeline with its
picture and design review, its file, and its blueprint."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from dealgate import timesource
from dealgate.core.blueprint import proposal_text
from dealgate.core.pipeline_file import dump_pipeline
from dealgate.core.review import review
from dealgate.errors import NotFound
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import export_pipeline, get_pipeline
from dealgate.web.errors import Missing

from . import pages
from .blueprints import proposal_for
from .drafts import working_copy
from .figures import figures_for
from .forms import NewPipelineForm
from .models import Draft
from .picture import render_svg


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "builder/index.html", index_context(NewPipelineForm()))


def index_context(form: NewPipelineForm) -> dict:
    """The pipelines, the drafts of pipelines not applied yet, and `form`."""
    pipelines = list(Pipeline.objects.order_by("name"))
    applied = {pipeline.key for pipeline in pipelines}
    drafts = list(Draft.objects.order_by("key").values_list("key", flat=True))
    return {
        "pipelines": pipelines,
        "drafted": set(drafts),
        "new_drafts": [key for key in drafts if key not in applied],
        "form": form,
    }


@login_required
def detail(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        if Draft.objects.filter(key=key).exists():
            return redirect("builder:edit", key=key)
        raise Missing(f"no pipeline {key!r}")
    spec = export_pipeline(pipeline)
    figures = figures_for(pipeline, timesource.now())
    context = {
        "pipeline": pipeline,
        "spec": spec,
        "rows": pages.stage_rows(spec),
        "handoffs": pages.handoff_rows(spec, with_missing=False),
        "findings": review(spec, figures.review),
        "svg": render_svg(pipeline.name, figures.stages, figures.won),
        "has_draft": Draft.objects.filter(key=key).exists(),
    }
    return render(request, "builder/detail.html", context)


@login_required
def picture(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = _pipeline(key)
    figures = figures_for(pipeline, timesource.now(), review=False)
    svg = render_svg(pipeline.name, figures.stages, figures.won)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{key}.svg"'
    return response


@login_required
def export(request: HttpRequest, key: str) -> HttpResponse:
    """The pipeline file; `?draft=1` gives the draft's file instead."""
    if request.GET.get("draft"):
        spec = _or_404(lambda: working_copy(key)).spec
        name = f"{key}-draft.toml"
    else:
        spec = export_pipeline(_pipeline(key))
        name = f"{key}.toml"
    return _toml(dump_pipeline(spec), name)


@login_required
def blueprint(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = _pipeline(key)
    last = pages.last_param(request)
    if isinstance(last, HttpResponse):
        return last
    proposal = proposal_for(pipeline, last=last)
    names = dict(pipeline.stages.values_list("key", "name"))
    context = {
        "pipeline": pipeline,
        "last": last,
        "blueprint": proposal.blueprint,
        "rows": pages.blueprint_rows(proposal.blueprint, names),
        "proposal": proposal_text(proposal),
    }
    if request.user.is_manager:
        # "Make it the draft" replaces the draft this page saw, and only it.
        working = working_copy(key)
        context["seen"] = working.seen
        context["has_draft"] = working.draft is not None
    # Its dates read in the pipeline's zone, as on a deal's page.
    with timezone.override(calendar_for(pipeline).zone):
        return render(request, "builder/blueprint.html", context)


@login_required
def blueprint_file(request: HttpRequest, key: str) -> HttpResponse:
    last = pages.last_param(request)
    if isinstance(last, HttpResponse):
        return last
    proposal = proposal_for(_pipeline(key), last=last)
    return _toml(proposal_text(proposal), f"{key}-proposed.toml")


def _pipeline(key: str) -> Pipeline:
    return _or_404(lambda: get_pipeline(key))


def _or_404(read):
    try:
        return read()
    except NotFound as exc:
        raise Missing(exc.message) from None


def _toml(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
