"""The sign-in limits hold for guesses sent at once.

A sign-in checks the locks, then the password, then counts the failure
(dealgate.accounts.forms.LimitedSignIn): every guess checked while earlier
ones are still having their password hashed finds no lock and is tried too.
Under `dealgate serve` with 8 workers, 40 wrong passwords sent at once for
one username from one address had 10 passwords checked against a limit of 5.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import forms as auth_forms
from django.test import Client
from django.urls import reverse

from dealgate import timesource

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


def test_a_guess_sent_while_another_is_checked_is_held_to_the_limit(
    client, alice, settings, monkeypatch
):
    settings.SIGN_IN_LIMIT = 1
    settings.CLIENT_ADDRESS_HEADER = ""
    authenticate = auth_forms.authenticate
    tried: list[str] = []
    answers: list[int] = []

    def password_checked_while_a_second_guess_arrives(request=None, **credentials):
        tried.append(credentials["password"])
        if len(tried) == 1:
            # The same attacker's next guess, from the same address, arriving
            # while the first one's password is being hashed.
            second = Client().post(
                reverse("login"), {"username": "alice", "password": "guess 2"}
            )
            answers.append(second.status_code)
        return authenticate(request, **credentials)

    monkeypatch.setattr(
        auth_forms, "authenticate", password_checked_while_a_second_guess_arrives
    )
    with timesource.frozen_at(T0):
        first = client.post(
            reverse("login"), {"username": "alice", "password": "guess 1"}
        )

    assert tried == ["guess 1"], (first.status_code, answers)
