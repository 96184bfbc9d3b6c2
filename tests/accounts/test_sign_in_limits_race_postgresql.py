"""PostgreSQL: a sign-in's count is taken by one conditional UPDATE, which
waits for another session counting in the same row and then judges the
count as that session left it; and no sign-in row stays locked while a
password is checked, so other sign-ins never wait for a hash."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from django.contrib.auth import forms as auth_forms
from django.db import connection
from django.test import Client
from django.urls import reverse

from dealgate import timesource
from dealgate.accounts import signin
from dealgate.accounts.models import SignInFailures
from tests.locking import until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks between sessions; SQLite serialises writers whole",
    ),
]

T0 = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
TABLE = SignInFailures._meta.db_table


def test_a_sign_in_waiting_on_another_sessions_count_judges_the_count_it_left(
    alice, settings, other
):
    settings.SIGN_IN_LIMIT = 2
    with timesource.frozen_at(T0):
        signin.begin("alice", "203.0.113.9").failed()
    # Another worker's guess, counted and not yet committed.
    other.raw.execute("BEGIN")
    other.raw.execute(
        f"UPDATE {TABLE} SET failures = failures + 1 WHERE scope = 'pair'"
    )
    refused: list[signin.SignInLocked] = []

    def sign_in() -> None:
        try:
            signin.begin("alice", "203.0.113.9")
        except signin.SignInLocked as lock:
            refused.append(lock)
        finally:
            connection.close()

    with timesource.frozen_at(T0):
        signing_in = threading.Thread(target=sign_in)
        signing_in.start()
        until(lambda: other.waiting_for_locks() == 1)
        other.raw.execute("COMMIT")
        signing_in.join(10)

    assert [lock.scope for lock in refused] == ["pair"]
    pair = SignInFailures.objects.get(scope="pair")
    assert pair.locked_until == T0 + dt.timedelta(seconds=settings.SIGN_IN_LOCKOUT)


def test_no_sign_in_row_is_locked_while_a_password_is_checked(
    alice, settings, other, monkeypatch
):
    settings.CLIENT_ADDRESS_HEADER = ""
    authenticate = auth_forms.authenticate
    held: list[str] = []

    def checked_while_another_session_takes_the_rows(request=None, **credentials):
        other.raw.execute("BEGIN")
        try:
            rows = other.raw.execute(
                f"SELECT scope FROM {TABLE} FOR UPDATE NOWAIT"
            ).fetchall()
        except psycopg.errors.LockNotAvailable:
            held.append("locked")
        else:
            held.extend(scope for (scope,) in rows)
        other.raw.execute("ROLLBACK")
        return authenticate(request, **credentials)

    monkeypatch.setattr(
        auth_forms, "authenticate", checked_while_another_session_takes_the_rows
    )
    with timesource.frozen_at(T0):
        answer = Client().post(
            reverse("login"), {"username": "alice", "password": "guess"}
        )

    assert answer.status_code == 200
    assert sorted(held) == ["address", "pair", "username"], "counted, not held"


def test_guesses_sent_at_once_have_no_more_passwords_checked_than_the_limit(
    alice, settings
):
    settings.SIGN_IN_LIMIT = 5
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def guess() -> None:
        try:
            start.wait()
            try:
                signin.begin("alice", "203.0.113.9")
            except signin.SignInLocked:
                outcomes.append("refused")
            else:
                outcomes.append("checked")  # its failure is already counted
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    with timesource.frozen_at(T0):  # pinned for the whole process
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    assert sorted(outcomes) == ["checked"] * 5 + ["refused"] * 7
    pair = SignInFailures.objects.get(scope="pair")
    assert pair.locked_until == T0 + dt.timedelta(seconds=settings.SIGN_IN_LOCKOUT)
