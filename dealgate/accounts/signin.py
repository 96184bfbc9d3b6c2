"""Limits on signing in, against passwords guessed over the internet.

Every failed sign-in (a wrong password, or a username no active person has)
is logged at WARNING with the username tried and the client address, never
the password, and counted twice: for the username (case-folded, so `Owner`
and `owner` share a count, and counted whether or not such a user exists, so
a refusal tells nothing about who has an account) and for the client address
(dealgate.web.client). When either count reaches its limit within the window,
every sign-in for that username, or from that address, is refused until the
lockout ends, with the right password too, and no password is checked
meanwhile. The lock's end gives a fresh count. A success sets the username's
count back, not the address's: signing in to one's own account must not buy
more guesses at another's.

The counts live in the database, so every worker of a server shares them.
Time is `timesource.wall_now()`: real time, also under a demo's as-of date,
under which a lockout would never end (tests pin it).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from dealgate import timesource
from dealgate.errors import DealgateError
from dealgate.web.client import address_key

from .models import SignInFailures

log = logging.getLogger("dealgate.accounts")

Scope = SignInFailures.Scope


@dataclass(frozen=True)
class Limits:
    """Failures allowed per username and per address within `window`, and
    how long sign-ins stay refused once either is reached."""

    username: int
    address: int
    window: dt.timedelta
    lockout: dt.timedelta


def limits() -> Limits:
    return Limits(
        username=int(settings.SIGN_IN_LIMIT),
        address=int(settings.SIGN_IN_ADDRESS_LIMIT),
        window=dt.timedelta(seconds=settings.SIGN_IN_WINDOW),
        lockout=dt.timedelta(seconds=settings.SIGN_IN_LOCKOUT),
    )


class SignInLocked(DealgateError):
    """Sign-ins for this username, or from this address, are refused until
    `until`; `retry_after` is the seconds left, for the Retry-After header."""

    code = "too_many_sign_ins"
    status = 429

    def __init__(self, scope: str, until: dt.datetime, now: dt.datetime) -> None:
        self.scope = scope
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        minutes = math.ceil(self.retry_after / 60)
        whom = "for this username" if scope == Scope.USERNAME else "from your address"
        super().__init__(
            f"Too many failed sign-ins {whom}. Try again after "
            f"{until.astimezone(dt.UTC):%H:%M} UTC, in "
            f"{minutes} minute{'s' if minutes != 1 else ''}.",
            field="username" if scope == Scope.USERNAME else None,
        )


def check_sign_in(username: str, address: str) -> None:
    """Raise SignInLocked if sign-ins for `username` or from `address` are
    refused now (the later of the two locks, when both are). One query."""
    now = timesource.wall_now()
    lock = (
        SignInFailures.objects.filter(_either(username, address))
        .filter(locked_until__gt=now)
        .order_by("-locked_until")
        .first()
    )
    if lock is None:
        return
    log.warning(
        "sign-in refused for username %r from %r: sign-ins %s are locked until %s",
        username,
        address,
        "for it" if lock.scope == Scope.USERNAME else "from that address",
        _when(lock.locked_until),
    )
    raise SignInLocked(lock.scope, lock.locked_until, now)


def record_failure(username: str, address: str) -> SignInLocked | None:
    """Count a failed sign-in for `username` and for `address`; the lock it
    started when it reached a limit (the username's, if both), else None."""
    now = timesource.wall_now()
    rules = limits()
    log.warning("sign-in failed for username %r from %r", username, address)
    with transaction.atomic():
        started = [
            scope
            for scope, key, limit in (
                (Scope.USERNAME, username_key(username), rules.username),
                (Scope.ADDRESS, address_key(address), rules.address),
            )
            if _count(scope, key, limit, now, rules)
        ]
    until = now + rules.lockout
    for scope in started:
        limit = rules.username if scope == Scope.USERNAME else rules.address
        log.warning(
            "sign-ins %s locked until %s: %d failures within %d seconds",
            f"for username {username!r}"
            if scope == Scope.USERNAME
            else f"from {address!r}",
            _when(until),
            limit,
            rules.window.total_seconds(),
        )
    return SignInLocked(started[0], until, now) if started else None


def record_success(username: str, address: str) -> None:
    """A sign-in succeeded: the username's count starts again."""
    SignInFailures.objects.filter(
        scope=Scope.USERNAME, key=username_key(username)
    ).delete()
    log.info("%s signed in from %r", username, address)


def unlock(*, username: str = "", address: str = "") -> int:
    """Forget the failures and lock of `username` and of `address` (either
    may be empty); how many were locked."""
    rows = SignInFailures.objects.filter(_either(username, address))
    locked = rows.filter(locked_until__gt=timesource.wall_now()).count()
    rows.delete()
    if username:
        log.info("sign-ins for username %r unlocked by hand", username)
    if address:
        log.info("sign-ins from %r unlocked by hand", address)
    return locked


def locked_now() -> list[SignInFailures]:
    """The locks in force, the longest first."""
    now = timesource.wall_now()
    return list(
        SignInFailures.objects.filter(locked_until__gt=now).order_by("-locked_until")
    )


def username_key(username: str) -> str:
    # Within the column: no person's username is anywhere near so long, so
    # the longer ones an attacker types may share a count.
    limit = SignInFailures._meta.get_field("key").max_length
    return username.strip().casefold()[:limit]


def _either(username: str, address: str) -> Q:
    match = Q(pk__in=[])
    if username:
        match |= Q(scope=Scope.USERNAME, key=username_key(username))
    if address:
        match |= Q(scope=Scope.ADDRESS, key=address_key(address))
    return match


def _count(scope: str, key: str, limit: int, now: dt.datetime, rules: Limits) -> bool:
    """Count one failure for `key`; whether it started a lock. The row is
    locked for the update, so failures in several workers at once all count
    (on SQLite the transaction already holds the database)."""
    _, created = SignInFailures.objects.get_or_create(
        scope=scope, key=key, defaults={"since": now}
    )
    if created:
        # A new count: a cheap moment to forget those long over.
        SignInFailures.objects.filter(since__lt=now - rules.window).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        ).delete()
    row = SignInFailures.objects.select_for_update().get(scope=scope, key=key)
    if row.since <= now - rules.window:
        row.failures, row.since = 0, now
    row.failures += 1
    started = row.failures >= limit
    if started:
        row.failures, row.since, row.locked_until = 0, now, now + rules.lockout
    row.save(update_fields=["failures", "since", "locked_until"])
    return started


def _when(instant: dt.datetime) -> str:
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
