"""The draft as a whole: edited as a file, discarded, planned and applied,
or replaced by the blueprint's proposal."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealgate.core.pipeline_file import (
    PipelineFileError,
    dump_pipeline,
    parse_pipeline,
)
from dealgate.core.text import counted
from dealgate.errors import Conflict, ValidationError
from dealgate.pipelines.models import Pipeline
from dealgate.web.errors import Missing

from . import drafts, pages
from .blueprints import proposal_for
from .editing import findings_of
from .forms import FileForm
from .guards import manager_required, posted_seen, seen, working_or_404
from .models import Draft

RENAME = "rename:"


@manager_required
def edit_file(request: HttpRequest, key: str) -> HttpResponse:
    """The draft as a pipeline file, to edit as text."""
    working = working_or_404(key)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        form = FileForm(request.POST)
        if form.is_valid():
            try:
                spec = parse_pipeline(form.cleaned_data["text"], f"{key}.toml")
                drafts.replace_draft(key, request.user, spec, seen=posted_seen(request))
            except PipelineFileError as exc:
                problems = [str(problem) for problem in exc.problems]
            except (ValidationError, Conflict) as exc:
                problems, status = [exc.message], exc.status
            else:
                messages.success(request, "The file is now the draft.")
                return redirect("builder:edit", key=key)
    else:
        form = FileForm(initial={"text": dump_pipeline(working.spec)})
    if problems and status == 200:
        status = 422
    context = {
        "working": working,
        "form": form,
        "problems": problems,
        "seen": seen(request, working),
    }
    return render(request, "builder/file.html", context, status=status)


@manager_required
@require_POST
def discard(request: HttpRequest, key: str) -> HttpResponse:
    """Drop the draft, if it is still the one the page showed, once asked:
    the builder's button posts here without `confirm`, which shows what is
    lost and asks again (no script needed); the answer posts `confirm`."""
    if request.POST.get("confirm") != "discard":
        working = working_or_404(key)
        if not working.draft:
            messages.error(request, "There is no draft to discard.")
            return redirect("builder:edit", key=key)
        context = {
            "working": working,
            "spec": working.spec,
            "plan": drafts.plan_draft(working, by=request.user),
            "seen": seen(request, working),
        }
        return render(request, "builder/discard.html", context)
    try:
        if drafts.discard_draft(key, request.user, seen=posted_seen(request)):
            messages.success(request, "Draft discarded.")
    except (ValidationError, Conflict) as exc:
        messages.error(request, f"The draft was kept: {exc.message}.")
        return redirect("builder:edit", key=key)
    if Draft.objects.filter(key=key).exists() or not _applied(key):
        return redirect("builder:index")
    return redirect("builder:detail", key=key)


def _applied(key: str) -> bool:
    return Pipeline.objects.filter(key=key).exists()


@manager_required
def apply(request: HttpRequest, key: str) -> HttpResponse:
    """GET: the plan. POST: apply it, with where the deals of removed stages
    go, if the draft and the applied pipeline are still what the plan showed
    (its form posts `seen`); else nothing is applied and the page shows the
    plan as it is now, to review again."""
    working = working_or_404(key)
    error = ""
    status = 200
    if request.method == "POST":
        # A choice of "rename:KEY" keeps the stage under the draft's new key.
        chosen = {
            name.removeprefix("move-"): value
            for name, value in request.POST.items()
            if name.startswith("move-") and value
        }
        moves = {k: v for k, v in chosen.items() if not v.startswith(RENAME)}
        renames = {
            k: v.removeprefix(RENAME) for k, v in chosen.items() if v.startswith(RENAME)
        }
        try:
            result = drafts.apply_draft(
                key,
                request.user,
                moves,
                seen=posted_seen(request),
                override_reason=request.POST.get("override_reason", ""),
                renames=renames,
            )
        except (ValidationError, Conflict) as exc:
            error, status = exc.message, exc.status
        else:
            count = result.change_count
            messages.success(request, f"Pipeline applied: {counted(count, 'change')}.")
            return redirect("builder:detail", key=key)
        # Read again after the refusal, so the plan shown is the one applying
        # now would carry out, with the `seen` that says so.
        working = working_or_404(key)
    plan = drafts.plan_draft(working, by=request.user)
    context = {
        "working": working,
        "plan": plan,
        "findings": findings_of(working),
        "data_checked": working.pipeline is not None,
        "error": error,
        "spec": working.spec,
        "seen": working.seen,
        "override_reason": request.POST.get("override_reason", ""),
    }
    return render(request, "builder/apply.html", context, status=status)


@manager_required
@require_POST
def blueprint_draft(request: HttpRequest, key: str) -> HttpResponse:
    """Make the blueprint's proposed pipeline the draft, to edit and apply."""
    last = pages.last_param(request)
    if isinstance(last, HttpResponse):
        return last
    working = working_or_404(key)
    if working.pipeline is None:
        raise Missing(f"pipeline {key!r} is not applied yet")
    proposal = proposal_for(working.pipeline, last=last)
    try:
        drafts.replace_draft(
            key, request.user, proposal.spec, seen=posted_seen(request)
        )
    except (ValidationError, Conflict) as exc:
        messages.error(request, f"The draft was kept: {exc.message}.")
        return redirect("builder:edit", key=key)
    messages.success(
        request, "The proposed pipeline is now the draft: review it, then apply it."
    )
    return redirect("builder:edit", key=key)
