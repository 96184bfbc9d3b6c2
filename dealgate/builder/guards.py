"""What every builder page that changes something shares: who may, the
draft or stage asked for (404 when missing), what the page showed, and
saving one edit."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import HttpRequest, HttpResponse

from dealgate.core.pipeline_file import PipelineSpec, StageSpec
from dealgate.errors import Conflict, NotFound, ValidationError
from dealgate.web.errors import Missing

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
        raise Missing(exc.message) from None


def stage_or_404(working: drafts.Working, stage_key: str) -> StageSpec:
    """The stage `stage_key` of the working spec; 404 when there is none."""
    try:
        return edits.stage_of(working.spec, stage_key)
    except ValidationError as exc:
        raise Missing(exc.message) from None


def seen(request: HttpRequest, working: drafts.Working) -> str:
    """What the page's forms post back as `seen` (see `drafts.check_seen`).
    A page shown again after a refusal keeps what the refused form posted:
    its fields were filled in from that draft, so a stale form must stay
    stale until the person reloads."""
    return request.POST.get("seen") or working.seen


def posted_seen(request: HttpRequest) -> str:
    """The `seen` a form posted; blank (refused by the services) when none."""
    return request.POST.get("seen", "")


def refusal_status(form: django_forms.Form) -> int:
    """409 when `form` was refused because the draft changed under it,
    else 422."""
    return 409 if form.has_error(NON_FIELD_ERRORS, Conflict.code) else 422


def save_form(
    request: HttpRequest,
    key: str,
    form: django_forms.Form,
    change: Callable[[dict], Change],
    *,
    done: str,
) -> bool:
    """Save `change(form.cleaned_data)` to the draft if the form is valid
    and the draft is still the one the page showed; True when saved (with
    `done` as the message), else the errors are on `form`."""
    if not form.is_valid():
        return False
    try:
        drafts.edit_draft(
            key, request.user, change(form.cleaned_data), seen=posted_seen(request)
        )
    except (ValidationError, Conflict) as exc:
        add_error(form, exc)
        return False
    messages.success(request, done)
    return True


def edit_or_tell(request: HttpRequest, key: str, change: Change) -> bool:
    """Save `change` to the draft, if it is still the one the page showed;
    a refusal becomes an error message."""
    try:
        drafts.edit_draft(key, request.user, change, seen=posted_seen(request))
    except (ValidationError, Conflict) as exc:
        messages.error(request, exc.message)
        return False
    except NotFound as exc:
        raise Missing(exc.message) from None
    return True
