"""The builder page: the pipeline's settings, its stages and its handoffs.

Admins and managers only. Every change is a form POST that saves the draft
and redirects (a refused one shows the page again with the reasons, status
422); nothing is applied before the plan page has shown what applying does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dealgate import timesource
from dealgate.core.numbers import whole_number
from dealgate.core.pipeline_file import (
    DEAL_OWNER,
    MAX_AGE_LIMIT_DAYS,
    HandoffSpec,
    PipelineSpec,
    parse_window,
)
from dealgate.core.review import Finding, review
from dealgate.core.rounding import whole
from dealgate.errors import ValidationError
from dealgate.web.errors import refused

from . import drafts, edits, pages
from .figures import figures_for
from .forms import (
    AddHandoffForm,
    AddStageForm,
    HandoffForm,
    NewPipelineForm,
    PipelineForm,
    add_error,
    people_and_teams,
)
from .guards import (
    Change,
    edit_or_tell,
    manager_required,
    refusal_status,
    save_form,
    seen,
    stage_or_404,
    working_or_404,
)
from .views import index_context

# Rows one save of the handoff table may post: far more than a pipeline has
# (a handoff joins two of its stages), few enough to build a form for each.
MAX_HANDOFF_ROWS = 1_000

# --- the builder page ------------------------------------------------------------


@manager_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    form = NewPipelineForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            drafts.start_pipeline(
                data["key"], data["name"], data["timezone"], request.user
            )
        except ValidationError as exc:
            add_error(form, exc)
        else:
            messages.success(
                request, f"Pipeline {data['name']} started: add its stages."
            )
            return redirect("builder:edit", key=data["key"])
    context = index_context(form)
    return render(request, "builder/index.html", context, status=422)


@manager_required
def edit(request: HttpRequest, key: str) -> HttpResponse:
    return _builder_page(request, working_or_404(key))


def _builder_page(
    request: HttpRequest,
    working: drafts.Working,
    *,
    status: int = 200,
    **bound: Any,
) -> HttpResponse:
    spec = working.spec
    offered = people_and_teams()
    context = {
        "working": working,
        "spec": spec,
        "rows": pages.stage_rows(spec),
        "handoffs": bound.get("handoffs") or _handoff_forms(spec, offered),
        "pipeline_form": bound.get("pipeline_form") or _pipeline_form(spec),
        "stage_form": bound.get("stage_form")
        or AddStageForm(
            owner=DEAL_OWNER, initial={"owner": DEAL_OWNER}, offered=offered
        ),
        "handoff_form": bound.get("handoff_form")
        or AddHandoffForm(spec=spec, prefix="new", offered=offered),
        "findings": findings_of(working),
        # Planned for the person, so a change only an admin may apply is
        # shown as such, not counted as one they can apply.
        "plan": drafts.plan_draft(working, by=request.user) if working.draft else None,
        "seen": seen(request, working),
    }
    return render(request, "builder/edit.html", context, status=status)


def _pipeline_form(spec: PipelineSpec) -> PipelineForm:
    initial = {name: getattr(spec, name) for name in edits.PIPELINE_FIELDS}
    initial["timezone"] = spec.calendar.get("timezone", "")
    return PipelineForm(initial=initial)


def _handoff_forms(
    spec: PipelineSpec, offered: list[tuple[str, str]]
) -> list[tuple[pages.HandoffRow, HandoffForm]]:
    """A form per handoff row; `offered` is `people_and_teams()`, read once
    for all of them."""
    rows = pages.handoff_rows(spec, with_missing=True)
    given = {(h.from_stage, h.to_stage): h.responsible for h in spec.handoffs}
    pairs = []
    for index, row in enumerate(rows):
        responsible = given.get((row.start, row.end), "stage-owner")
        initial = {
            "start": row.start,
            "end": row.end,
            "window": row.window,
            "responsible": responsible,
        }
        form = HandoffForm(
            prefix=f"h{index}",
            initial=initial,
            responsible=responsible,
            offered=offered,
        )
        pairs.append((row, form))
    return pairs


def findings_of(working: drafts.Working) -> list[Finding]:
    """The design review of the draft (or the applied pipeline), with the
    applied pipeline's data when there is one."""
    data = None
    if working.pipeline is not None:
        data = figures_for(working.pipeline, timesource.now()).review
    return review(working.spec, data)


@manager_required
@require_POST
def edit_pipeline(request: HttpRequest, key: str) -> HttpResponse:
    form = PipelineForm(request.POST)

    def change(data: dict) -> Change:
        return lambda spec: edits.change_pipeline(spec, **data)

    if save_form(request, key, form, change, done="Pipeline saved in the draft."):
        return redirect("builder:edit", key=key)
    return _builder_page(
        request, working_or_404(key), status=refusal_status(form), pipeline_form=form
    )


@manager_required
@require_POST
def add_stage(request: HttpRequest, key: str) -> HttpResponse:
    form = AddStageForm(request.POST, owner=request.POST.get("owner", ""))

    def change(data: dict) -> Change:
        values = {k: data[k] for k in ("buyer_action", "owner", "age_limit_days")}
        return lambda spec: edits.add_stage(
            spec,
            data["key"],
            data["name"],
            probability=data["probability"] or 0,
            **values,
        )

    done = f"Stage {request.POST.get('name', '')} added to the draft."
    if save_form(request, key, form, change, done=done):
        return redirect("builder:edit", key=key)
    return _builder_page(
        request, working_or_404(key), status=refusal_status(form), stage_form=form
    )


@manager_required
@require_POST
def move_stage(request: HttpRequest, key: str, stage_key: str) -> HttpResponse:
    offset = -1 if request.POST.get("direction") == "up" else 1
    edit_or_tell(request, key, lambda spec: edits.move_stage(spec, stage_key, offset))
    return redirect(reverse("builder:edit", args=[key]) + "#stages")


@manager_required
@require_POST
def remove_stage(request: HttpRequest, key: str, stage_key: str) -> HttpResponse:
    working = working_or_404(key)
    stage = stage_or_404(working, stage_key)
    if edit_or_tell(request, key, lambda spec: edits.remove_stage(spec, stage_key)):
        message = f"Stage {stage.name} removed from the draft."
        if working.pipeline and working.pipeline.deals.filter(stage__key=stage_key):
            message += " It holds deals: you will say where they go when applying."
        messages.success(request, message)
    return redirect(reverse("builder:edit", args=[key]) + "#stages")


# --- handoffs ------------------------------------------------------------------------


@manager_required
@require_POST
def handoffs(request: HttpRequest, key: str) -> HttpResponse:
    """Save every handoff of the table at once; an empty window drops one."""
    working = working_or_404(key)
    try:
        count = whole_number(
            request.POST.get("rows", ""), "rows", most=MAX_HANDOFF_ROWS, unit="rows"
        )
    except ValidationError as error:
        # Never read a missing count as zero rows: that would drop every handoff.
        return refused(request, 400, error.message)
    offered = people_and_teams()
    bound = [
        HandoffForm(
            request.POST,
            prefix=f"h{i}",
            responsible=request.POST.get(f"h{i}-responsible", "stage-owner"),
            offered=offered,
        )
        for i in range(count)
    ]
    wanted = [_handoff(form, working.spec) for form in bound]
    if all(form.is_valid() and not form.errors for form in bound):
        kept = [handoff for handoff in wanted if handoff is not None]
        if edit_or_tell(request, key, lambda s: edits.set_handoffs(s, kept)):
            messages.success(request, "Handoffs saved in the draft.")
            return redirect(reverse("builder:edit", args=[key]) + "#handoffs")
    rows = pages.handoff_rows(working.spec, with_missing=True)
    return _builder_page(
        request, working, status=422, handoffs=list(zip(rows, bound, strict=False))
    )


def _handoff(form: HandoffForm, spec: PipelineSpec) -> HandoffSpec | None:
    """The handoff a row describes, None when its window is empty; a window
    that does not read puts an error on the form."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    text = data["window"].strip()
    if not text:
        return None
    day = whole(edits.day_of(spec))
    try:
        minutes = parse_window(text, day)
    except ValueError:
        minutes = None
    if minutes is None or minutes > MAX_AGE_LIMIT_DAYS * day:
        form.add_error(
            "window",
            'a window is business time like "15m", "2h", "1d" or "1d 4h", '
            f"from 1m to {MAX_AGE_LIMIT_DAYS}d",
        )
        return None
    return HandoffSpec(data["start"], data["end"], minutes, data["responsible"])


@manager_required
@require_POST
def add_handoff(request: HttpRequest, key: str) -> HttpResponse:
    working = working_or_404(key)
    form = AddHandoffForm(
        request.POST,
        spec=working.spec,
        prefix="new",
        responsible=request.POST.get("new-responsible", "stage-owner"),
    )
    handoff = _handoff(form, working.spec)
    if handoff is None and form.is_valid() and not form.errors:
        form.add_error("window", "give the new handoff a response window")
    if handoff is not None:

        def change(data: dict) -> Change:
            return lambda spec: edits.set_handoffs(spec, [*spec.handoffs, handoff])

        done = "Handoff added to the draft."
        if save_form(request, key, form, change, done=done):
            return redirect(reverse("builder:edit", args=[key]) + "#handoffs")
    return _builder_page(
        request, working, status=refusal_status(form), handoff_form=form
    )
