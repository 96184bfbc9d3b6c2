"""The sign-in forms of the login page and the admin, limited alike."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from dealgate.web.client import client_address

from . import signin

INVALID = "That username and password do not match an account."


class LimitedSignIn:
    """Mixed into Django's authentication forms: a sign-in a lock refuses (of
    the username from this address, of the address, or of the username from
    all addresses) is refused before any password is checked. A sign-in is
    counted as a failure before its password is checked, so guesses sent at
    once are held to the limits too; a success takes it back and sets back the
    count of the username from this address (dealgate.accounts.signin).

    `lock` is the lock that refused the sign-in, or that this failure
    started, for the view to answer 429; None otherwise.
    """

    lock: signin.SignInLocked | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()  # a field left empty: nothing was tried
        address = client_address(self.request) if self.request else ""
        try:
            attempt = signin.begin(username, address)
        except signin.SignInLocked as lock:
            self.lock = lock
            raise forms.ValidationError(lock.message, code="locked") from None
        try:
            cleaned = super().clean()
        except forms.ValidationError as refused:
            self.lock = attempt.failed()
            if self.lock is None:
                raise
            raise forms.ValidationError(
                [*refused.error_list, forms.ValidationError(self.lock.message)]
            ) from None
        attempt.succeeded()
        return cleaned


class SignInForm(LimitedSignIn, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": INVALID}


class AdminSignInForm(LimitedSignIn, AdminAuthenticationForm):
    pass
