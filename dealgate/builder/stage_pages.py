"""One stage in the builder: its fields, breach actions and criteria."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealgate.core.pipeline_file import CriterionSpec, PipelineSpec, StageSpec
from dealgate.errors import Conflict, ValidationError
from dealgate.web.errors import Missing

from . import drafts, edits, rules
from .breach import rules_of
from .forms import CriterionEditForm, CriterionForm, StageForm, add_error
from .guards import (
    edit_or_tell,
    manager_required,
    posted_seen,
    refusal_status,
    seen,
    stage_or_404,
    working_or_404,
)


@manager_required
def stage(request: HttpRequest, key: str, stage_key: str) -> HttpResponse:
    working = working_or_404(key)
    current = stage_or_404(working, stage_key)
    if request.method != "POST":
        return _stage_page(request, working, current, _stage_form(working, current))
    form = StageForm(request.POST, owner=current.owner)
    if form.is_valid():
        data = form.values()
        values = {name: data[name] for name in edits.STAGE_FIELDS}
        actions = None if data["breach_default"] else data["on_breach"]
        try:
            drafts.edit_stage(
                key, request.user, stage_key, values, actions, seen=posted_seen(request)
            )
        except (ValidationError, Conflict) as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"Stage {data['name']} saved in the draft.")
            return redirect("builder:stage", key=key, stage_key=stage_key)
    return _stage_page(request, working, current, form, status=refusal_status(form))


def _stage_form(working: drafts.Working, stage: StageSpec) -> StageForm:
    own = stage.breach.get("on_breach")
    default = rules_of(working.spec).default.on_breach
    initial = {name: getattr(stage, name) for name in edits.STAGE_FIELDS}
    initial["breach_default"] = own is None
    initial["on_breach"] = list(default if own is None else own)
    return StageForm(initial=initial, owner=stage.owner)


def _stage_page(
    request: HttpRequest,
    working: drafts.Working,
    stage: StageSpec,
    form: StageForm,
    *,
    status: int = 200,
    adding: dict | None = None,
    editing: dict | None = None,
) -> HttpResponse:
    """The stage page. `adding` maps "entry" or "exit" to a refused new
    criterion's form, `editing` maps (which, index) to a refused edit's form:
    shown as posted, with their errors, in place of fresh ones."""
    custom = working.spec.custom_fields
    adding, editing = adding or {}, editing or {}
    lists = []
    for which, items in (
        (edits.ENTRY, stage.entry_criteria),
        (edits.EXIT, stage.exit_criteria),
    ):
        rows = [
            editing.get((which, n))
            or CriterionEditForm(
                initial={"label": c.label, "rule": c.rule}, prefix=f"{which}{n}"
            )
            for n, c in enumerate(items)
        ]
        new = adding.get(which) or CriterionForm(
            prefix=which, custom=custom, currency=working.spec.currency
        )
        lists.append((which, rows, new))
    context = {
        "working": working,
        "stage": stage,
        "form": form,
        "criteria": lists,
        "kinds": rules.KINDS,
        "seen": seen(request, working),
    }
    return render(request, "builder/stage.html", context, status=status)


@manager_required
@require_POST
def add_criterion(
    request: HttpRequest, key: str, stage_key: str, which: str
) -> HttpResponse:
    working = working_or_404(key)
    current = stage_or_404(working, stage_key)
    custom = working.spec.custom_fields
    form = CriterionForm(
        request.POST, prefix=which, custom=custom, currency=working.spec.currency
    )
    if form.is_valid():
        try:
            criterion = rules.criterion_from(form.choice(), custom)
            drafts.edit_draft(
                key,
                request.user,
                lambda spec: edits.add_criterion(spec, stage_key, which, criterion),
                seen=posted_seen(request),
            )
        except (ValidationError, Conflict) as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"Criterion {criterion.label!r} added.")
            return redirect("builder:stage", key=key, stage_key=stage_key)
    page_form = _stage_form(working, current)
    return _stage_page(
        request,
        working,
        current,
        page_form,
        status=refusal_status(form),
        adding={which: form},
    )


@manager_required
@require_POST
def edit_criterion(
    request: HttpRequest, key: str, stage_key: str, which: str, index: int
) -> HttpResponse:
    """Save a criterion's label and rule as text, or remove it. A refused
    edit shows the page again with what was typed, the error on its field and
    a message naming the stage and the criterion."""
    if which not in (edits.ENTRY, edits.EXIT):
        raise Missing(f"criteria are {edits.ENTRY} or {edits.EXIT}, not {which!r}")
    form = CriterionEditForm(request.POST, prefix=f"{which}{index}")

    def remove(spec: PipelineSpec) -> PipelineSpec:
        return edits.remove_criterion(spec, stage_key, which, index)

    if "remove" in request.POST:
        if edit_or_tell(request, key, remove):
            messages.success(request, "Criterion removed.")
        return redirect("builder:stage", key=key, stage_key=stage_key)
    working = working_or_404(key)
    current = stage_or_404(working, stage_key)
    if form.is_valid():
        data = form.cleaned_data
        criterion = CriterionSpec(data["label"], data["rule"])
        try:
            drafts.edit_draft(
                key,
                request.user,
                lambda spec: edits.change_criterion(
                    spec, stage_key, which, index, criterion
                ),
                seen=posted_seen(request),
            )
        except (ValidationError, Conflict) as exc:
            add_error(form, exc)
        else:
            messages.success(request, f"Criterion {data['label']!r} saved.")
            return redirect("builder:stage", key=key, stage_key=stage_key)
    messages.error(request, _not_saved(current, which, index, form))
    return _stage_page(
        request,
        working,
        current,
        _stage_form(working, current),
        status=refusal_status(form),
        editing={(which, index): form},
    )


def _not_saved(
    stage: StageSpec, which: str, index: int, form: CriterionEditForm
) -> str:
    """E.g. "Exit criterion 2 ('Call held') of stage Discovery call booked was
    not saved: the rule does not compile: ...". The label is the saved one,
    which the person knows the criterion by, else the one typed."""
    items = stage.entry_criteria if which == edits.ENTRY else stage.exit_criteria
    label = items[index].label if 0 <= index < len(items) else ""
    label = label or form.data.get(f"{form.prefix}-label", "").strip()
    named = f"{which.title()} criterion {index + 1}" + (
        f" ({label!r})" if label else ""
    )
    errors = [error.rstrip(".") for errors in form.errors.values() for error in errors]
    return f"{named} of stage {stage.name or stage.key} was not saved: " + (
        "; ".join(errors) + "."
    )
