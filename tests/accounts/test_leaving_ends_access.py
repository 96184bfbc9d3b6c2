"""Deactivating someone ends their access for good: every session they had
(whatever the session engine) and every API token, so that reactivating
them brings neither back; the log counts what ended, naming no secret."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from dealgate.accounts.services import change_user
from dealgate.cli import main
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token, user_for_token

ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.signed_cookies",
]


def signed_in(user) -> Client:
    user.refresh_from_db()  # as a sign-in reads the person
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200
    return client


def opens_home(client: Client) -> bool:
    return client.get("/").status_code == 200


@pytest.mark.parametrize("engine", ENGINES)
def test_a_reactivated_person_is_signed_out_of_their_old_sessions(
    settings, olivia, alice, engine, now
):
    settings.SESSION_ENGINE = engine
    phone, laptop = signed_in(alice), signed_in(alice)

    change_user("alice", active=False)
    change_user("alice", active=True)

    assert not opens_home(phone)
    assert not opens_home(laptop)
    assert opens_home(signed_in(alice))


def test_deactivating_one_person_leaves_the_others_signed_in(olivia, alice, bob, now):
    bobs = signed_in(bob)

    change_user("alice", active=False)

    assert opens_home(bobs)


def test_a_reactivated_persons_old_api_tokens_stay_revoked(olivia, alice, now):
    token, secret = create_token(alice, "website")

    change_user("alice", active=False)
    change_user("alice", active=True)

    assert user_for_token(secret) is None
    token.refresh_from_db()
    assert token.revoked_at == now
    _, fresh = create_token(alice, "website again")
    assert user_for_token(fresh) == alice


def test_token_list_shows_a_leavers_tokens_revoked(olivia, alice, now, capsys):
    create_token(alice, "website")

    assert main(["user", "set", "alice", "--inactive"]) == 0
    capsys.readouterr()
    main(["token", "list"])

    assert ", revoked 2026-06-10 12:00 UTC" in capsys.readouterr().out


def test_a_token_revoked_before_keeps_its_revocation_time(olivia, alice, now, caplog):
    earlier, _ = create_token(alice, "old")
    ApiToken.objects.filter(pk=earlier.pk).update(revoked_at=now.replace(year=2025))
    create_token(alice, "website")
    caplog.set_level(logging.INFO, logger="dealgate.accounts")

    change_user("alice", active=False)

    earlier.refresh_from_db()
    assert earlier.revoked_at.year == 2025
    assert "1 API token revoked" in caplog.text


def test_the_log_counts_ended_sessions_and_revoked_tokens_without_secrets(
    olivia, alice, now, caplog
):
    signed_in(alice), signed_in(alice)
    _, secret = create_token(alice, "website")
    caplog.set_level(logging.INFO, logger="dealgate.accounts")

    change_user("alice", active=False)

    assert (
        "user alice deactivated: 2 sessions ended, 1 API token revoked" in caplog.text
    )
    assert secret not in caplog.text


def test_an_engine_without_a_list_of_sessions_says_it_keeps_no_count(
    settings, olivia, alice, now, caplog
):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    caplog.set_level(logging.INFO, logger="dealgate.accounts")

    change_user("alice", active=False)

    assert (
        "all sessions ended (the django.contrib.sessions.backends.signed_cookies"
        in (caplog.text)
    )


def test_other_changes_keep_a_persons_sessions_and_tokens(olivia, alice, now):
    client = signed_in(alice)
    _, secret = create_token(alice, "website")

    change_user("alice", first_name="Alicia", role="manager")

    assert opens_home(client)
    assert user_for_token(secret) == alice
