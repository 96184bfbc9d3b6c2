"""Sign-in against password guessing: failures are logged and counted per
username and per client address, in the database; a lock refuses every
sign-in, right password or not, until it ends, and says when."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from dealgate import timesource
from dealgate.accounts import signin
from dealgate.accounts.models import SignInFailures
from dealgate.cli import main
from tests.conftest import PASSWORD
from tests.web.helpers import text_of

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
WRONG = "not the password at all"


@pytest.fixture(autouse=True)
def _limits(settings) -> None:
    settings.SIGN_IN_LIMIT = 5
    settings.SIGN_IN_ADDRESS_LIMIT = 20
    settings.SIGN_IN_WINDOW = 900
    settings.SIGN_IN_LOCKOUT = 900
    settings.CLIENT_ADDRESS_HEADER = ""


def sign_in(client, username: str, password: str, *, at=T0, path=None, **extra):
    with timesource.frozen_at(at):
        return client.post(
            path or reverse("login"),
            {"username": username, "password": password},
            **extra,
        )


@pytest.fixture
def staff_olivia(olivia):
    """The admin as `dealgate user add --role admin` makes one: the admin
    pages are hers too."""
    olivia.is_staff = olivia.is_superuser = True
    olivia.save()
    return olivia


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_failed_sign_in_is_logged_with_username_and_address_not_the_password(
    client, alice, caplog
):
    with caplog.at_level(logging.INFO, logger="dealgate"):
        response = sign_in(client, "alice", WRONG, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200
    assert "That username and password do not match an account." in text_of(response)
    (failure,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert failure.name == "dealgate.accounts"
    assert failure.getMessage() == (
        "sign-in failed for username 'alice' from '203.0.113.9'"
    )
    assert WRONG not in caplog.text


def test_after_five_failures_even_the_right_password_is_refused_until_a_time(
    client, alice, caplog
):
    statuses = [sign_in(client, "alice", WRONG).status_code for _ in range(5)]
    later = T0 + dt.timedelta(minutes=3)
    with caplog.at_level(logging.WARNING, logger="dealgate"):
        refused = sign_in(client, "alice", PASSWORD, at=later)

    assert statuses == [200] * 4 + [429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(12 * 60)
    assert (
        "Too many failed sign-ins for this username. "
        "Try again after 12:15 UTC, in 12 minutes." in text_of(refused)
    )
    assert not signed_in(client)
    assert "sign-in refused for username 'alice' from '127.0.0.1'" in caplog.text


def test_the_failure_that_reaches_the_limit_says_so_and_logs_the_lock(
    client, alice, caplog
):
    for _ in range(4):
        sign_in(client, "alice", WRONG)
    with caplog.at_level(logging.WARNING, logger="dealgate"):
        fifth = sign_in(client, "alice", WRONG)

    text = text_of(fifth)
    assert "That username and password do not match an account." in text
    assert "Try again after 12:15 UTC, in 15 minutes." in text
    assert (
        "sign-ins for username 'alice' locked until 2026-06-10 12:15:00 UTC: "
        "5 failures within 900 seconds" in caplog.text
    )


def test_once_the_lockout_is_over_the_right_password_signs_in(client, alice):
    for _ in range(5):
        sign_in(client, "alice", WRONG)

    response = sign_in(client, "alice", PASSWORD, at=T0 + dt.timedelta(minutes=15))

    assert response.status_code == 302
    assert signed_in(client)


def test_a_locked_username_is_refused_from_any_address(client, alice):
    for n in range(5):
        sign_in(client, "alice", WRONG, REMOTE_ADDR=f"10.0.0.{n}")

    response = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 429


def test_failures_further_apart_than_the_window_do_not_add_up(client, alice):
    for n in range(4):
        sign_in(client, "alice", WRONG, at=T0 + dt.timedelta(minutes=n))
    later = T0 + dt.timedelta(minutes=16)
    statuses = [sign_in(client, "alice", WRONG, at=later).status_code for _ in range(4)]

    assert statuses == [200] * 4
    assert sign_in(client, "alice", PASSWORD, at=later).status_code == 302


def test_a_success_sets_the_usernames_count_back(client, alice, bob):
    for _ in range(4):
        sign_in(client, "alice", WRONG)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()

    statuses = [sign_in(client, "alice", WRONG).status_code for _ in range(4)]

    assert statuses == [200] * 4


def test_a_username_is_counted_whatever_its_case(client, alice):
    for name in ("ALICE", "Alice", "alice ", "aLiCe", "alice"):
        sign_in(client, name, WRONG)

    assert sign_in(client, "alice", PASSWORD).status_code == 429


def test_a_username_nobody_has_is_counted_and_refused_alike(client, alice):
    for _ in range(5):
        sign_in(client, "nobody", WRONG)

    refused = sign_in(client, "nobody", PASSWORD)

    assert refused.status_code == 429
    assert "Too many failed sign-ins for this username." in text_of(refused)


def test_one_address_trying_many_usernames_is_locked_out(client, alice, settings):
    settings.SIGN_IN_ADDRESS_LIMIT = 3
    for name in ("owner", "admin", "root"):
        sign_in(client, name, WRONG, REMOTE_ADDR="198.51.100.7")

    there = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.7")
    elsewhere = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.8")

    assert there.status_code == 429
    assert "Too many failed sign-ins from your address." in text_of(there)
    assert elsewhere.status_code == 302


def test_a_success_does_not_set_the_address_count_back(client, alice, settings):
    settings.SIGN_IN_ADDRESS_LIMIT = 3
    sign_in(client, "owner", WRONG)
    sign_in(client, "root", WRONG)
    sign_in(client, "alice", PASSWORD)
    client.logout()

    assert sign_in(client, "admin", WRONG).status_code == 429


def test_addresses_are_stored_only_as_a_keyed_hash(client, alice):
    sign_in(client, "alice", WRONG, REMOTE_ADDR="203.0.113.9")

    keys = dict(SignInFailures.objects.values_list("scope", "key"))
    assert keys["username"] == "alice"
    assert "203.0.113.9" not in keys["address"] and len(keys["address"]) == 64


def test_behind_a_proxy_the_address_is_the_one_it_writes(client, alice, settings):
    settings.SIGN_IN_ADDRESS_LIMIT = 2
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # A client may write entries of its own; the proxy's is the last.
    sign_in(client, "a", WRONG, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9", **proxy)
    sign_in(client, "b", WRONG, HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.9", **proxy)

    same = sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    other = sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10")

    assert (same.status_code, other.status_code) == (429, 302)


def test_behind_a_proxy_a_port_or_an_ipv6_form_is_the_same_address(
    client, alice, settings
):
    settings.SIGN_IN_ADDRESS_LIMIT = 3
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for name, sent in (
        ("a", "10.3.3.3"),
        ("b", "10.3.3.3:5555"),
        ("c", "::ffff:10.3.3.3"),
    ):
        sign_in(client, name, WRONG, HTTP_X_FORWARDED_FOR=sent, **proxy)

    locked = sign_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.3.3.3:6")

    assert locked.status_code == 429 and not signed_in(client)


def test_behind_a_proxy_a_value_that_is_no_address_counts_as_the_proxy(
    client, alice, settings
):
    settings.SIGN_IN_ADDRESS_LIMIT = 2
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for name, sent in (("a", "garbage"), ("b", "more garbage")):
        sign_in(client, name, WRONG, HTTP_X_FORWARDED_FOR=sent, **proxy)

    # Not a new address each time: both counted as the connection's own.
    locked = sign_in(
        client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="nonsense", **proxy
    )

    assert locked.status_code == 429


def test_an_empty_password_is_no_try_and_not_counted(client, alice):
    for _ in range(6):
        sign_in(client, "alice", "")

    assert not SignInFailures.objects.exists()
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_limited_as_well(client, staff_olivia):
    path = "/admin/login/"
    statuses = [
        sign_in(client, "olivia", WRONG, path=path).status_code for _ in range(5)
    ]
    refused = sign_in(client, "olivia", PASSWORD, path=path)

    assert statuses == [200] * 4 + [429]
    assert refused.status_code == 429
    assert "Too many failed sign-ins for this username." in text_of(refused)
    assert not signed_in(client)


def test_the_login_page_and_the_admin_share_one_count(client, staff_olivia):
    for _ in range(3):
        sign_in(client, "olivia", WRONG)
    for _ in range(2):
        sign_in(client, "olivia", WRONG, path="/admin/login/")

    assert sign_in(client, "olivia", PASSWORD).status_code == 429


def run(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with timesource.frozen_at(T0 + dt.timedelta(minutes=1)):
        return main(list(argv))


def test_an_admin_sees_and_lifts_a_lock_from_the_command_line(
    client, alice, bob, monkeypatch, capsys
):
    for _ in range(5):
        sign_in(client, "alice", WRONG)
    for _ in range(5):
        sign_in(client, "mallory", WRONG)
    capsys.readouterr()

    run(monkeypatch, "user", "list")
    listing = capsys.readouterr().out
    code = run(monkeypatch, "user", "unlock", "alice")
    said = capsys.readouterr().out

    assert "(sign-in locked until 2026-06-10 12:15 UTC)" in listing
    assert "1 other lock(s) after failed sign-ins" in listing
    assert "bob" in listing and listing.count("locked until") == 1
    assert (code, said) == (0, "sign-ins for alice are unlocked\n")
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_an_address_is_unlocked_by_the_address_the_log_names(
    client, alice, settings, monkeypatch, capsys
):
    settings.SIGN_IN_ADDRESS_LIMIT = 2
    for name in ("owner", "root"):
        sign_in(client, name, WRONG, REMOTE_ADDR="198.51.100.7")

    code = run(monkeypatch, "user", "unlock", "--address", "198.51.100.7")

    assert code == 0
    assert "sign-ins for address 198.51.100.7 are unlocked" in capsys.readouterr().out
    ok = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert ok.status_code == 302


def test_unlock_without_whom_is_refused(db, monkeypatch, capsys):
    assert run(monkeypatch, "user", "unlock") != 0
    assert "a USERNAME or --address" in capsys.readouterr().err


def test_under_a_demos_as_of_date_a_lock_counts_real_time(client, alice, settings):
    settings.AS_OF = "2017-12-31"  # as `make demo` runs, with no pinned clock
    settings.SIGN_IN_LIMIT = 1

    client.post(reverse("login"), {"username": "alice", "password": WRONG})

    lock = SignInFailures.objects.get(scope="username")
    assert lock.locked_until > timesource.wall_now() > lock.since
    assert lock.locked_until.year != 2017


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the test database on "
    "SQLite is in memory and private to one thread",
)
@pytest.mark.django_db(transaction=True)
def test_failures_in_several_workers_at_once_all_count(settings):
    settings.SIGN_IN_LIMIT = 6
    start = threading.Barrier(6)
    locks: list[object] = []

    def fail() -> None:
        try:
            start.wait()
            locks.append(signin.record_failure("alice", "203.0.113.9"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fail) for _ in range(6)]
    with timesource.frozen_at(T0):  # pinned for the whole process
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(locks) == 6
    assert sum(lock is not None for lock in locks) == 1, "one lock, started once"
    row = SignInFailures.objects.get(scope="username")
    assert row.locked_until == T0 + dt.timedelta(seconds=900)


def test_the_admin_lists_the_locks_and_deleting_one_lifts_it(
    client, alice, staff_olivia
):
    for _ in range(5):
        sign_in(client, "alice", WRONG)
    lock = SignInFailures.objects.get(scope="username")
    client.force_login(staff_olivia)

    listing = client.get("/admin/accounts/signinfailures/")
    deleted = client.post(
        f"/admin/accounts/signinfailures/{lock.pk}/delete/", {"post": "yes"}
    )
    client.logout()

    assert listing.status_code == 200 and "alice" in text_of(listing)
    assert deleted.status_code == 302
    assert sign_in(client, "alice", PASSWORD).status_code == 302
