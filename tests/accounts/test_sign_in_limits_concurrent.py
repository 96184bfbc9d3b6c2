"""The sign-in limits hold for guesses sent at once.

A sign-in checks the locks, then the password, then counts the failure
(dealgate.accounts.forms.LimitedSignIn): every guess checked while earlier
ones are still having their password hashed finds no lock and is tried too.
Under `dealgate serve` with 8 workers, 40 wrong passwords sent at once for
one username from one address had 10 passwords checked against a limit of 5.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.contrib.auth import forms as auth_forms
from django.test import Client
from django.urls import reverse

from dealgate import timesource
from dealgate.accounts.models import SignInFailures
from tests.conftest import PASSWORD
from tests.web.helpers import text_of

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
    assert answers == [429], "the second guess is refused as a lock refuses it"


def guess_while_checking(first_password: str, monkeypatch) -> tuple[object, object]:
    """Sign in as alice with `first_password` from 127.0.0.1, and while its
    password is checked send a wrong guess from there: both answers."""
    authenticate = auth_forms.authenticate
    answers: list[object] = []

    def checked_while_a_guess_arrives(request=None, **credentials):
        if not answers:
            answers.append(
                Client().post(
                    reverse("login"), {"username": "alice", "password": "guess"}
                )
            )
        return authenticate(request, **credentials)

    monkeypatch.setattr(auth_forms, "authenticate", checked_while_a_guess_arrives)
    with timesource.frozen_at(T0):
        first = Client().post(
            reverse("login"), {"username": "alice", "password": first_password}
        )
    return first, answers[0]


def test_a_guess_finding_the_count_filled_by_guesses_being_checked_starts_the_lock(
    alice, settings, monkeypatch, caplog
):
    settings.SIGN_IN_LIMIT = 2
    settings.SIGN_IN_LOCKOUT = 900
    settings.CLIENT_ADDRESS_HEADER = ""
    with timesource.frozen_at(T0):
        Client().post(reverse("login"), {"username": "alice", "password": "guess 0"})

    with caplog.at_level(logging.WARNING, logger="dealgate"):
        first, second = guess_while_checking("guess 1", monkeypatch)

    assert second.status_code == 429 and int(second["Retry-After"]) == 900
    assert "Too many failed sign-ins for this username from your address." in (
        text_of(second)
    )
    assert first.status_code == 200, "the guess being checked fails as it would"
    pair = SignInFailures.objects.get(scope="pair")
    assert pair.locked_until == T0 + dt.timedelta(seconds=900)
    assert caplog.text.count("locked until") == 1, "the lock starts once"


def test_the_right_password_being_checked_while_a_guess_arrives_still_signs_in(
    alice, settings, monkeypatch
):
    settings.SIGN_IN_LIMIT = 1
    settings.CLIENT_ADDRESS_HEADER = ""

    first, second = guess_while_checking(PASSWORD, monkeypatch)

    assert second.status_code == 429
    assert first.status_code == 302, "the owner's own sign-in is no failure"
    # ... and takes back what it counted: the address's count and the
    # username's from all addresses are as if it never happened.
    assert not SignInFailures.objects.filter(scope__in=["address", "username"])


def test_a_success_takes_back_its_own_count_not_the_failures_before_it(
    client, alice, settings
):
    settings.CLIENT_ADDRESS_HEADER = ""
    with timesource.frozen_at(T0):
        for _ in range(2):
            client.post(reverse("login"), {"username": "alice", "password": "no"})
        client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    counts = dict(SignInFailures.objects.values_list("scope", "failures"))
    assert counts == {"address": 2, "username": 2, "pair": 0}
