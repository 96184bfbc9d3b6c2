"""The draft as a whole: edited as a file, discarded, planned and applied,
or replaced by the blueprint's proposal."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealgate.core.pipeline_file import (
    PipelineFileError,
    dump_pipeline,
    parse_pipeline,
)
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline

from . import drafts, pages
from .blueprints import proposal_for
from .forms import FileForm
from .guards import manager_required, working_or_404
from .models import Draft


@manager_required
def edit_file(request: HttpRequest, key: str) -> HttpResponse:
    """The draft as a pipeline file, to edit as text."""
    working = working_or_404(key)
    problems: list[str] = []
    if request.method == "POST":
        form = FileForm(request.POST)
        if form.is_valid():
            try:
                spec = parse_pipeline(form.cleaned_data["text"], f"{key}.toml")
                drafts.replace_draft(key, request.user, spec)
            except PipelineFileError as exc:
                problems = [str(problem) for problem in exc.problems]
            except ValidationError as exc:
                problems = [exc.message]
            else:
                messages.success(request, "The file is now the draft.")
                return redirect("builder:edit", key=key)
    else:
        form = FileForm(initial={"text": dump_pipeline(working.spec)})
    context = {"working": working, "form": form, "problems": problems}
    return render(
        request, "builder/file.html", context, status=422 if problems else 200
    )


@manager_required
@require_POST
def discard(request: HttpRequest, key: str) -> HttpResponse:
    if drafts.discard_draft(key, request.user):
        messages.success(request, "Draft discarded.")
    if Draft.objects.filter(key=key).exists() or not _applied(key):
        return redirect("builder:index")
    return redirect("builder:detail", key=key)


def _applied(key: str) -> bool:
    return Pipeline.objects.filter(key=key).exists()


@manager_required
def apply(request: HttpRequest, key: str) -> HttpResponse:
    """GET: the plan. POST: apply it, with where the deals of removed stages go."""
    working = working_or_404(key)
    error = ""
    if request.method == "POST":
        moves = {
            name.removeprefix("move-"): value
            for name, value in request.POST.items()
            if name.startswith("move-") and value
        }
        try:
            result = drafts.apply_draft(key, request.user, moves)
        except ValidationError as exc:
            error = exc.message
        else:
            count = result.change_count
            messages.success(
                request, f"Pipeline applied: {count} change{'s' if count != 1 else ''}."
            )
            return redirect("builder:detail", key=key)
    plan = drafts.plan_draft(working)
    context = {"working": working, "plan": plan, "error": error, "spec": working.spec}
    return render(request, "builder/apply.html", context, status=422 if error else 200)


@manager_required
@require_POST
def blueprint_draft(request: HttpRequest, key: str) -> HttpResponse:
    """Make the blueprint's proposed pipeline the draft, to edit and apply."""
    last = pages.last_param(request)
    if isinstance(last, HttpResponse):
        return last
    working = working_or_404(key)
    if working.pipeline is None:
        raise Http404(f"pipeline {key!r} is not applied yet")
    proposal = proposal_for(working.pipeline, last=last)
    drafts.replace_draft(key, request.user, proposal.spec)
    messages.success(
        request, "The proposed pipeline is now the draft: review it, then apply it."
    )
    return redirect("builder:edit", key=key)
