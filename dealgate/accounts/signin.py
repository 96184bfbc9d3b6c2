"""Limits on signing in, against passwords guessed over the internet.

Every failed sign-in (a wrong password, or a username no active person has)
is logged at WARNING with the username tried and the client address, never
the password, and counted three times, each with its own limit within the
window:

- for the username from that client address (SIGN_IN_LIMIT, 5): at the
  limit, that username is refused from that address only. Someone failing
  on purpose locks out themselves, not the owner signing in elsewhere;
- for the client address, whatever usernames it tries (SIGN_IN_ADDRESS_LIMIT,
  20): at the limit, that address is refused for every username;
- for the username from all addresses together (SIGN_IN_USERNAME_LIMIT, 50):
  guessing spread over many addresses. At the limit, the username is refused
  from every address, except one it signed in from successfully within
  SIGN_IN_KNOWN_ADDRESS_DAYS: there its owner still gets in, limited by the
  first two counts like anyone.

A username is case-folded, so `Owner` and `owner` share a count, and counted
whether or not such a user exists, so a refusal tells nothing about who has
an account; an address is counted by dealgate.web.client's rule and stored
only as a keyed hash. While a lock holds, no password is checked, the right
one is refused too, and the lock's end gives a fresh count. A success sets
the count of that username from that address back, not the address's nor the
username's across addresses: signing in to one's own account must not buy
more guesses at another's, nor hide guessing from elsewhere.

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
from dealgate.core.text import counted
from dealgate.errors import DealgateError
from dealgate.web.client import address_key

from .models import SignInFailures

log = logging.getLogger("dealgate.accounts")

Scope = SignInFailures.Scope

# The broadest lock first: the one a refused client is told about when a
# failure starts several at once.
_BREADTH = (Scope.ADDRESS, Scope.USERNAME, Scope.PAIR)


@dataclass(frozen=True)
class Limits:
    """Failures allowed within `window` for a username from one address, from
    an address, and for a username from all addresses; how long sign-ins stay
    refused once one is reached; how long after a success an address lets
    its username through a lock of the username (zero: never)."""

    pair: int
    address: int
    username: int
    window: dt.timedelta
    lockout: dt.timedelta
    known_for: dt.timedelta

    def of(self, scope: str) -> int:
        return {
            Scope.PAIR: self.pair,
            Scope.ADDRESS: self.address,
            Scope.USERNAME: self.username,
        }[scope]


def limits() -> Limits:
    return Limits(
        pair=int(settings.SIGN_IN_LIMIT),
        address=int(settings.SIGN_IN_ADDRESS_LIMIT),
        username=int(settings.SIGN_IN_USERNAME_LIMIT),
        window=dt.timedelta(seconds=settings.SIGN_IN_WINDOW),
        lockout=dt.timedelta(seconds=settings.SIGN_IN_LOCKOUT),
        known_for=dt.timedelta(days=settings.SIGN_IN_KNOWN_ADDRESS_DAYS),
    )


_REFUSED = {
    Scope.PAIR: "Too many failed sign-ins for this username from your address.",
    Scope.ADDRESS: "Too many failed sign-ins from your address.",
    Scope.USERNAME: "Too many failed sign-ins for this username from many "
    "addresses: it may sign in only from an address it recently signed in from.",
}
# The same, when no address is let through (SIGN_IN_KNOWN_ADDRESS_DAYS=0).
_REFUSED_EVERYWHERE = "Too many failed sign-ins for this username from many addresses."


class SignInLocked(DealgateError):
    """Sign-ins are refused until `until`, by the lock of `scope`;
    `retry_after` is the seconds left, for the Retry-After header."""

    code = "too_many_sign_ins"
    status = 429

    def __init__(self, scope: str, until: dt.datetime, now: dt.datetime) -> None:
        self.scope = scope
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        minutes = math.ceil(self.retry_after / 60)
        refused = _REFUSED[scope]
        if scope == Scope.USERNAME and not limits().known_for:
            refused = _REFUSED_EVERYWHERE
        super().__init__(
            f"{refused} Try again after "
            f"{until.astimezone(dt.UTC):%H:%M} UTC, in "
            f"{counted(minutes, 'minute')}.",
            field=None if scope == Scope.ADDRESS else "username",
        )


def check_sign_in(username: str, address: str) -> None:
    """Raise SignInLocked if sign-ins for `username` from `address` are
    refused now (by the lock that ends last, when several are). One query."""
    now = timesource.wall_now()
    rules = limits()
    rows = {row.scope: row for row in _rows(username, address)}
    known = _known(rows.get(Scope.PAIR), now, rules)
    locks = [
        row
        for row in rows.values()
        if row.locked_until is not None and row.locked_until > now
    ]
    if known and any(row.scope == Scope.USERNAME for row in locks):
        log.info(
            "sign-in for username %r from %r let through the username's lock: "
            "it signed in from there on %s",
            username,
            address,
            _when(known),
        )
        locks = [row for row in locks if row.scope != Scope.USERNAME]
    if not locks:
        return
    lock = max(locks, key=lambda row: row.locked_until)
    log.warning(
        "sign-in refused for username %r from %r until %s by the limit %s",
        username,
        address,
        _when(lock.locked_until),
        _LIMIT_NAMES[lock.scope],
    )
    raise SignInLocked(lock.scope, lock.locked_until, now)


def record_failure(username: str, address: str) -> SignInLocked | None:
    """Count a failed sign-in for `username` from `address`, for `address`
    and for `username`; the lock it started that refuses this client (the
    broadest, if several), else None."""
    now = timesource.wall_now()
    rules = limits()
    log.warning("sign-in failed for username %r from %r", username, address)
    with transaction.atomic():
        counted = {
            scope: _count(scope, username, address, now, rules) for scope in _BREADTH
        }
    known = _known(counted[Scope.PAIR][0], now, rules)
    started = [row for row, began in counted.values() if began]
    for row in started:
        _log_lock(row, username, address, rules)
    refusing = [row for row in started if not (row.scope == Scope.USERNAME and known)]
    if not refusing:
        return None
    return SignInLocked(refusing[0].scope, refusing[0].locked_until, now)


def record_success(username: str, address: str) -> None:
    """A sign-in succeeded: the count of `username` from `address` starts
    again, and the address is remembered as one the username signs in from."""
    now = timesource.wall_now()
    pair = _match(Scope.PAIR, username, address)
    if limits().known_for:
        SignInFailures.objects.update_or_create(
            **pair,
            defaults={
                "failures": 0,
                "since": now,
                "locked_until": None,
                "signed_in_at": now,
            },
        )
    else:
        SignInFailures.objects.filter(**pair).delete()
    log.info("%s signed in from %r", username, address)


def unlock(*, username: str = "", address: str = "") -> int:
    """Forget the failures and lift the locks of `username` (from any one
    address and from all) and of `address` (for any usernames); either may be
    empty. The addresses a username signed in from are still remembered. How
    many locks were in force."""
    now = timesource.wall_now()
    match = Q(pk__in=[])
    if username:
        match |= Q(
            scope__in=[Scope.PAIR, Scope.USERNAME], username=username_key(username)
        )
    if address:
        match |= Q(scope__in=[Scope.PAIR, Scope.ADDRESS], address=address_key(address))
    rows = SignInFailures.objects.filter(match)
    with transaction.atomic():
        locked = rows.filter(locked_until__gt=now).count()
        rows.filter(_forgettable(now, limits())).delete()
        rows.update(failures=0, since=now, locked_until=None)
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
    limit = SignInFailures._meta.get_field("username").max_length
    return username.strip().casefold()[:limit]


def _match(scope: str, username: str, address: str) -> dict[str, str]:
    """The columns that name the row of `scope` for this sign-in."""
    return {
        "scope": scope,
        "username": "" if scope == Scope.ADDRESS else username_key(username),
        "address": "" if scope == Scope.USERNAME else address_key(address),
    }


def _rows(username: str, address: str) -> list[SignInFailures]:
    match = Q(pk__in=[])
    for scope in _BREADTH:
        match |= Q(**_match(scope, username, address))
    return list(SignInFailures.objects.filter(match))


def _known(
    pair: SignInFailures | None, now: dt.datetime, rules: Limits
) -> dt.datetime | None:
    """When this username last signed in from this address, if recently
    enough to let it through a lock of the username; else None."""
    if pair is None or pair.signed_in_at is None or not rules.known_for:
        return None
    return pair.signed_in_at if pair.signed_in_at > now - rules.known_for else None


def _forgettable(now: dt.datetime, rules: Limits) -> Q:
    """Rows that count no failures of the window, hold no lock and remember
    no recent success: deleting them changes nothing."""
    return (
        Q(since__lt=now - rules.window)
        & (Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        & (Q(signed_in_at__isnull=True) | Q(signed_in_at__lte=now - rules.known_for))
    )


def _count(
    scope: str, username: str, address: str, now: dt.datetime, rules: Limits
) -> tuple[SignInFailures, bool]:
    """Count one failure in `scope`; the row afterwards, and whether this
    failure started a lock. The row is locked for the update, so failures in
    several workers at once all count (on SQLite the transaction already
    holds the database)."""
    match = _match(scope, username, address)
    rows = SignInFailures.objects.select_for_update()
    row = rows.filter(**match).first()
    if row is None:
        row, created = SignInFailures.objects.get_or_create(
            **match, defaults={"since": now}
        )
        if not created:  # another worker's, made meanwhile
            row = rows.get(**match)
        _forget_stale(now, rules)  # a new count: a cheap moment
    if row.since <= now - rules.window:
        row.failures, row.since = 0, now
    row.failures += 1
    started = row.failures >= rules.of(scope)
    if started:
        row.failures, row.since, row.locked_until = 0, now, now + rules.lockout
    row.save(update_fields=["failures", "since", "locked_until"])
    return row, started


def _forget_stale(now: dt.datetime, rules: Limits) -> None:
    """Delete the rows that no longer matter. Those another worker holds are
    skipped: it is counting in them, and waiting for it could deadlock."""
    stale = (
        SignInFailures.objects.filter(_forgettable(now, rules))
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    SignInFailures.objects.filter(pk__in=list(stale)).delete()


def _log_lock(row: SignInFailures, username: str, address: str, rules: Limits) -> None:
    seconds = int(rules.window.total_seconds())
    until = _when(row.locked_until)
    limit = _LIMIT_NAMES[row.scope]
    if row.scope == Scope.PAIR:
        log.warning(
            "sign-ins for username %r from %r locked until %s by the limit %s: "
            "%d failures within %d seconds",
            username, address, until, limit, rules.pair, seconds,
        )  # fmt: skip
    elif row.scope == Scope.ADDRESS:
        log.warning(
            "sign-ins from %r locked until %s, for every username, by the limit "
            "%s: %d failures within %d seconds, the last for username %r",
            address, until, limit, rules.address, seconds, username,
        )  # fmt: skip
    else:
        log.warning(
            "sign-ins for username %r locked until %s by the limit %s, %s: %d "
            "failures within %d seconds, the last from %r",
            username, until, limit, _but_known(rules), rules.username, seconds,
            address,
        )  # fmt: skip


def _but_known(rules: Limits) -> str:
    if not rules.known_for:
        return "from every address"
    within = counted(rules.known_for.days, "day")
    return f"but from addresses it signed in from within {within}"


_LIMIT_NAMES = {
    Scope.PAIR: "for that username from one address",
    Scope.ADDRESS: "for one address",
    Scope.USERNAME: "for that username from all addresses",
}


def _when(instant: dt.datetime) -> str:
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
