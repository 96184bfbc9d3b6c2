"""The sign-in page, its sign-ins limited (dealgate.accounts.signin), and
the sign-out; where either sends the browser next follows
dealgate.web.redirects."""

from __future__ import annotations

from django import forms
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpResponse

from dealgate.web.redirects import local_target

from .forms import SignInForm


class LocalNextMixin:
    """The `next` a sign-in or sign-out names, followed by the one rule for
    places taken from a request (dealgate.web.redirects); when it fails,
    the view's own default page."""

    def get_redirect_url(self) -> str:
        request = self.request
        name = self.redirect_field_name
        named = request.POST.get(name, request.GET.get(name))
        return local_target(request, named, "")


class SignInView(LocalNextMixin, LoginView):
    form_class = SignInForm

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        return refused_if_locked(super().form_invalid(form), form)


class SignOutView(LocalNextMixin, LogoutView):
    pass


def refused_if_locked(response: HttpResponse, form: forms.Form | None) -> HttpResponse:
    """A sign-in page answered after a lock refused the sign-in (or this
    failure started one) as 429 Too Many Requests, saying when to retry."""
    lock = getattr(form, "lock", None)
    if lock is not None:
        response.status_code = lock.status
        response["Retry-After"] = str(lock.retry_after)
    return response
