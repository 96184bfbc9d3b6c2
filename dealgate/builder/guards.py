"""What every builder page that changes something shares: who may, the
draft or stage asked for (404 when missing), and saving one edit."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from dealgate.core.pipeline_file import PipelineSpec, StageSpec
from dealgate.errors import NotFound, ValidationError

from . import drafts, edits
from .forms import add_error

Change = Callable[[PipelineSpec], PipelineSpec]


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, and an admin or manager; reps get 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_manager:
            raise PermissionDenied("only admins and managers edit pipelines")
        return view(request, *args, **kwargs)

    return wrapped


def working_or_404(key: str) -> drafts.Working:
    """What the builder edits for `key`; 404 when there is no such pipeline."""
    try:
        return drafts.working_copy(key)
    except NotFound as exc:
        raise Http404(exc.message) from None


def stage_or_404(working: drafts.Working, stage_key: str) -> StageSpec:
    """The stage `stage_key` of the working spec; 404 when there is none."""
    try:
        return edits.stage_of(working.spec, stage_key)
    except ValidationError as exc:
        raise Http404(exc.message) from None


def save_form(
    request: HttpRequest,
    key: str,
    form: django_forms.Form,
    change: Callable[[dict], Change],
    *,
    done: str,
) -> bool:
    """Save `change(form.cleaned_data)` to the draft if the form is valid;
    True when saved (with `done` as the message), else the errors are on
    `form`."""
    if not form.is_valid():
        return False
    try:
        drafts.edit_draft(key, request.user, change(form.cleaned_data))
    except ValidationError as exc:
        add_error(form, exc)
        return False
    messages.success(request, done)
    return True


def edit_or_tell(request: HttpRequest, key: str, change: Change) -> bool:
    """Save `change` to the draft; a refusal becomes an error message."""
    try:
        drafts.edit_draft(key, request.user, change)
    except ValidationError as exc:
        messages.error(request, exc.message)
        return False
    except NotFound as exc:
        raise Http404(exc.message) from None
    return True
