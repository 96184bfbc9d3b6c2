"""The login page, its sign-ins limited (dealgate.accounts.signin)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.views import LoginView
from django.http import HttpResponse

from .forms import SignInForm


class SignInView(LoginView):
    form_class = SignInForm

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        return refused_if_locked(super().form_invalid(form), form)


def refused_if_locked(response: HttpResponse, form: forms.Form | None) -> HttpResponse:
    """A sign-in page answered after a lock refused the sign-in (or this
    failure started one) as 429 Too Many Requests, saying when to retry."""
    lock = getattr(form, "lock", None)
    if lock is not None:
        response.status_code = lock.status
        response["Retry-After"] = str(lock.retry_after)
    return response
