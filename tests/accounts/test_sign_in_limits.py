"""Sign-in against password guessing: failures are logged and counted in the
database for a username from one client address, for an address, and for a
username from all addresses; a lock refuses the sign-ins it counts, right
password or not, until it ends, and says when. Failing on purpose locks out
the one failing, not the owner signing in from elsewhere."""

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
    settings.SIGN_IN_USERNAME_LIMIT = 50
    settings.SIGN_IN_WINDOW = 900
    settings.SIGN_IN_LOCKOUT = 900
    settings.SIGN_IN_KNOWN_ADDRESS_DAYS = 30
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
        "Too many failed sign-ins for this username from your address. "
        "Try again after 12:15 UTC, in 12 minutes." in text_of(refused)
    )
    assert not signed_in(client)
    assert (
        "sign-in refused for username 'alice' from '127.0.0.1' until "
        "2026-06-10 12:15:00 UTC by the limit for that username from one address"
        in caplog.text
    )


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
        "sign-ins for username 'alice' from '127.0.0.1' locked until "
        "2026-06-10 12:15:00 UTC by the limit for that username from one "
        "address: 5 failures within 900 seconds" in caplog.text
    )
    assert WRONG not in caplog.text


def test_once_the_lockout_is_over_the_right_password_signs_in(client, alice):
    for _ in range(5):
        sign_in(client, "alice", WRONG)

    response = sign_in(client, "alice", PASSWORD, at=T0 + dt.timedelta(minutes=15))

    assert response.status_code == 302
    assert signed_in(client)


def test_failing_on_purpose_locks_the_attacker_out_not_the_owner(client, alice):
    attacker = {"REMOTE_ADDR": "203.0.113.66"}
    statuses = [
        sign_in(client, "alice", WRONG, **attacker).status_code for _ in range(8)
    ]
    attacker_with_the_password = sign_in(client, "alice", PASSWORD, **attacker)

    owner = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.20")

    assert statuses == [200] * 4 + [429] * 4
    assert attacker_with_the_password.status_code == 429
    assert owner.status_code == 302 and signed_in(client)


def test_failing_on_purpose_every_window_never_locks_the_owner_out(client, alice):
    owner_statuses = []
    for window in range(6):
        at = T0 + dt.timedelta(minutes=15 * window)
        for _ in range(5):
            sign_in(client, "alice", WRONG, at=at, REMOTE_ADDR="203.0.113.66")
        owner = sign_in(client, "alice", PASSWORD, at=at, REMOTE_ADDR="192.0.2.1")
        owner_statuses.append(owner.status_code)
        client.logout()

    assert owner_statuses == [302] * 6


def test_failures_for_a_username_from_many_addresses_do_not_lock_it(client, alice):
    for n in range(10):
        sign_in(client, "alice", WRONG, REMOTE_ADDR=f"10.0.0.{n}")

    response = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 302


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
    assert "Too many failed sign-ins for this username from your address." in (
        text_of(refused)
    )


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

    rows = {
        scope: (username, address)
        for scope, username, address in SignInFailures.objects.values_list(
            "scope", "username", "address"
        )
    }
    hashed = rows["address"][1]
    assert "203.0.113.9" not in hashed and len(hashed) == 64
    assert rows == {
        "pair": ("alice", hashed),
        "address": ("", hashed),
        "username": ("alice", ""),
    }


def test_behind_a_proxy_the_address_is_the_one_it_writes(client, alice, settings):
    settings.SIGN_IN_ADDRESS_LIMIT = 2
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    settings.PROXY_ADDRESSES = ["10.0.0.1", "127.0.0.1"]
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
    settings.PROXY_ADDRESSES = ["10.0.0.1", "127.0.0.1"]
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
    settings.PROXY_ADDRESSES = ["10.0.0.1", "127.0.0.1"]
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
    assert refused["Retry-After"] == str(15 * 60)
    assert "Too many failed sign-ins for this username from your address." in (
        text_of(refused)
    )
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

    assert "(sign-in locked from 1 address until 2026-06-10 12:15 UTC)" in listing
    assert "1 other lock after failed sign-ins" in listing
    assert "bob" in listing and listing.count("sign-in locked") == 1
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

    lock = SignInFailures.objects.get(scope="pair")
    assert lock.locked_until > timesource.wall_now() > lock.since
    assert lock.locked_until.year != 2017


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): the test database on "
    "SQLite is in memory and private to one thread",
)


def fail_at_once(addresses: list[str]) -> list[object]:
    """One failure for alice from each address, all in workers at once; the
    locks they report."""
    start = threading.Barrier(len(addresses))
    locks: list[object] = []

    def fail(address: str) -> None:
        try:
            start.wait()
            locks.append(signin.begin("alice", address).failed())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fail, args=(a,)) for a in addresses]
    with timesource.frozen_at(T0):  # pinned for the whole process
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return locks


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_failures_in_several_workers_at_once_all_count(settings):
    settings.SIGN_IN_LIMIT = 6

    locks = fail_at_once(["203.0.113.9"] * 6)

    assert len(locks) == 6
    assert sum(lock is not None for lock in locks) == 1, "one lock, started once"
    row = SignInFailures.objects.get(scope="pair")
    assert row.locked_until == T0 + dt.timedelta(seconds=900)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_failures_from_many_addresses_at_once_all_count_for_the_username(settings):
    settings.SIGN_IN_USERNAME_LIMIT = 8

    locks = fail_at_once([f"203.0.113.{n}" for n in range(8)])

    assert len(locks) == 8
    assert [lock.scope for lock in locks if lock is not None] == ["username"]
    row = SignInFailures.objects.get(scope="username")
    assert row.locked_until == T0 + dt.timedelta(seconds=900)
    assert SignInFailures.objects.filter(scope="pair").count() == 8


def test_the_admin_lists_the_locks_and_deleting_one_lifts_it(
    client, alice, staff_olivia
):
    for _ in range(5):
        sign_in(client, "alice", WRONG)
    lock = SignInFailures.objects.get(scope="pair")
    client.force_login(staff_olivia)

    listing = client.get("/admin/accounts/signinfailures/")
    deleted = client.post(
        f"/admin/accounts/signinfailures/{lock.pk}/delete/", {"post": "yes"}
    )
    client.logout()

    assert listing.status_code == 200 and "alice" in text_of(listing)
    assert deleted.status_code == 302
    assert sign_in(client, "alice", PASSWORD).status_code == 302


# Guessing spread over many addresses: the username's limit from all of them.


def fail_from_many_addresses(client, username: str, count: int, *, at=T0):
    """`count` failures for `username`, two from each address: none reaches
    the limit of one address, or of the username from one address."""
    return [
        sign_in(client, username, WRONG, at=at, REMOTE_ADDR=f"10.1.{n // 2}.1")
        for n in range(count)
    ]


def test_guessing_from_many_addresses_locks_the_username_from_new_ones(
    client, alice, caplog
):
    with caplog.at_level(logging.WARNING, logger="dealgate"):
        answers = fail_from_many_addresses(client, "alice", 50)
        refused = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.1")

    assert [a.status_code for a in answers] == [200] * 49 + [429]
    said = (
        "Too many failed sign-ins for this username from many addresses: it may "
        "sign in only from an address it recently signed in from. Try again "
        "after 12:15 UTC, in 15 minutes."
    )
    assert said in text_of(answers[-1])
    assert refused.status_code == 429 and refused["Retry-After"] == str(15 * 60)
    assert said in text_of(refused) and not signed_in(client)
    assert (
        "sign-ins for username 'alice' locked until 2026-06-10 12:15:00 UTC by "
        "the limit for that username from all addresses, but from addresses it "
        "signed in from within 30 days: 50 failures within 900 seconds, the last "
        "from '10.1.24.1'" in caplog.text
    )
    assert (
        "sign-in refused for username 'alice' from '192.0.2.1' until 2026-06-10 "
        "12:15:00 UTC by the limit for that username from all addresses" in caplog.text
    )
    assert WRONG not in caplog.text and PASSWORD not in caplog.text


def test_the_owner_still_signs_in_from_an_address_they_recently_signed_in_from(
    client, alice
):
    home = {"REMOTE_ADDR": "198.51.100.20"}
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(days=3), **home)
    client.logout()
    fail_from_many_addresses(client, "alice", 50)

    elsewhere = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.1")
    at_home = sign_in(client, "alice", PASSWORD, **home)

    assert elsewhere.status_code == 429
    assert at_home.status_code == 302 and signed_in(client)


def test_an_address_signed_in_from_long_ago_is_not_let_through(client, alice):
    home = {"REMOTE_ADDR": "198.51.100.20"}
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(days=31), **home)
    client.logout()
    fail_from_many_addresses(client, "alice", 50)

    assert sign_in(client, "alice", PASSWORD, **home).status_code == 429


def test_with_known_addresses_off_no_address_is_let_through(
    client, alice, settings, caplog
):
    settings.SIGN_IN_KNOWN_ADDRESS_DAYS = 0
    home = {"REMOTE_ADDR": "198.51.100.20"}
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(hours=1), **home)
    client.logout()
    assert not SignInFailures.objects.exists(), "no success remembered"
    with caplog.at_level(logging.WARNING, logger="dealgate"):
        fail_from_many_addresses(client, "alice", 50)

    refused = sign_in(client, "alice", PASSWORD, **home)

    assert refused.status_code == 429
    assert (
        "Too many failed sign-ins for this username from many addresses. Try "
        "again after 12:15 UTC" in text_of(refused)
    )
    assert (
        "by the limit for that username from all addresses, from every address: "
        "50 failures" in caplog.text
    )


def test_a_known_address_is_still_limited_per_username_there(client, alice):
    home = {"REMOTE_ADDR": "198.51.100.20"}
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(days=1), **home)
    client.logout()
    fail_from_many_addresses(client, "alice", 50)

    statuses = [sign_in(client, "alice", WRONG, **home).status_code for _ in range(5)]
    refused = sign_in(client, "alice", PASSWORD, **home)

    assert statuses == [200] * 4 + [429]
    assert refused.status_code == 429
    assert "Too many failed sign-ins for this username from your address." in (
        text_of(refused)
    )


def test_a_success_sets_back_its_addresss_count_not_the_usernames_in_all(
    client, alice, settings
):
    settings.SIGN_IN_USERNAME_LIMIT = 8
    home = {"REMOTE_ADDR": "198.51.100.20"}
    for _ in range(4):
        sign_in(client, "alice", WRONG, **home)
    sign_in(client, "alice", PASSWORD, **home)
    client.logout()

    # Four more from there: its count began again, so no lock for it ...
    statuses = [sign_in(client, "alice", WRONG, **home).status_code for _ in range(4)]
    # ... but the eight count for the username in all, which now is locked
    # from anywhere it has not signed in from.
    elsewhere = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.1")

    assert statuses == [200] * 4
    assert elsewhere.status_code == 429
    assert "from many addresses" in text_of(elsewhere)
    assert sign_in(client, "alice", PASSWORD, **home).status_code == 302


def test_the_admin_answers_429_for_a_username_locked_from_all_addresses(
    client, staff_olivia
):
    fail_from_many_addresses(client, "olivia", 50)

    refused = sign_in(client, "olivia", PASSWORD, path="/admin/login/")

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "from many addresses" in text_of(refused)
    assert not signed_in(client)


def test_the_address_limit_logs_the_address_and_the_last_username(
    client, alice, settings, caplog
):
    settings.SIGN_IN_ADDRESS_LIMIT = 3
    with caplog.at_level(logging.WARNING, logger="dealgate"):
        for name in ("owner", "admin", "root"):
            last = sign_in(client, name, WRONG, REMOTE_ADDR="198.51.100.7")

    assert last.status_code == 429
    assert (
        "sign-ins from '198.51.100.7' locked until 2026-06-10 12:15:00 UTC, for "
        "every username, by the limit for one address: 3 failures within 900 "
        "seconds, the last for username 'root'" in caplog.text
    )


def test_old_counts_are_forgotten_but_a_recent_success_is_remembered(
    client, alice, bob
):
    sign_in(client, "bob", WRONG, at=T0 - dt.timedelta(hours=1))
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(days=2))
    client.logout()

    sign_in(client, "nobody", WRONG, REMOTE_ADDR="192.0.2.1")

    kept = set(SignInFailures.objects.values_list("scope", "username"))
    assert kept == {
        ("pair", "alice"),
        ("pair", "nobody"),
        ("address", ""),
        ("username", "nobody"),
    }


# Lifting locks by hand.


def test_unlocking_a_username_lifts_its_locks_from_each_address_and_from_all(
    client, alice, monkeypatch, capsys
):
    home = {"REMOTE_ADDR": "198.51.100.20"}
    sign_in(client, "alice", PASSWORD, at=T0 - dt.timedelta(days=1), **home)
    client.logout()
    for _ in range(5):
        sign_in(client, "alice", WRONG, REMOTE_ADDR="203.0.113.66")
    fail_from_many_addresses(client, "alice", 50)
    capsys.readouterr()

    run(monkeypatch, "user", "list")
    listing = capsys.readouterr().out
    code = run(monkeypatch, "user", "unlock", "alice")
    said = capsys.readouterr().out
    later = T0 + dt.timedelta(minutes=2)
    there = sign_in(client, "alice", PASSWORD, at=later, REMOTE_ADDR="203.0.113.66")
    client.logout()
    new = sign_in(client, "alice", PASSWORD, at=later, REMOTE_ADDR="192.0.2.1")

    assert (
        "(sign-in locked until 2026-06-10 12:15 UTC, but from addresses they "
        "recently signed in from)" in listing
    )
    assert (code, said) == (0, "sign-ins for alice are unlocked\n")
    assert (there.status_code, new.status_code) == (302, 302)
    # The address she signed in from yesterday is still hers.
    assert SignInFailures.objects.filter(
        scope="pair", username="alice", signed_in_at=T0 - dt.timedelta(days=1)
    ).exists()


def test_unlocking_an_address_lifts_its_locks_for_every_username(
    client, alice, bob, settings, monkeypatch, capsys
):
    settings.SIGN_IN_ADDRESS_LIMIT = 6
    there = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(5):
        sign_in(client, "alice", WRONG, **there)
    sign_in(client, "bob", WRONG, **there)

    run(monkeypatch, "user", "unlock", "--address", "198.51.100.7")
    later = T0 + dt.timedelta(minutes=2)
    alice_there = sign_in(client, "alice", PASSWORD, at=later, **there)
    client.logout()
    bob_there = sign_in(client, "bob", PASSWORD, at=later, **there)

    assert (alice_there.status_code, bob_there.status_code) == (302, 302)


# The table's new shape, from the one of a count per username or address.


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_address_counts_and_lifts_the_old_username_locks():
    from django.db.migrations.executor import MigrationExecutor

    before = [("accounts", "0003_sign_in_failures")]
    until = T0 + dt.timedelta(minutes=15)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        rows = old.get_model("accounts", "SignInFailures").objects
        rows.create(scope="username", key="alice", since=T0, locked_until=until)
        rows.create(scope="username", key="bob", failures=3, since=T0)
        rows.create(scope="address", key="ab" * 32, since=T0, locked_until=until)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    kept = SignInFailures.objects.values_list(
        "scope", "username", "address", "failures", "locked_until", "signed_in_at"
    )
    assert set(kept) == {
        ("username", "alice", "", 0, None, None),
        ("username", "bob", "", 3, None, None),
        ("address", "", "ab" * 32, 0, until, None),
    }


def test_a_client_reaching_the_server_directly_cannot_forge_its_address(
    client, alice, settings
):
    settings.SIGN_IN_ADDRESS_LIMIT = 2
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    direct = {"REMOTE_ADDR": "198.51.100.7"}
    # A new address in the header each time: ignored, the peer's own counts.
    sign_in(client, "a", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.1", **direct)
    sign_in(client, "b", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.2", **direct)

    locked = sign_in(
        client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.3", **direct
    )

    assert locked.status_code == 429 and not signed_in(client)
