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

A sign-in is counted as a failure before its password is checked, by one
conditional UPDATE per count that is refused at the limit, and taken back if
it succeeds (`begin`, then `Attempt.failed` or `Attempt.succeeded`): guesses
sent at once, each hashed while the others arrive, are held to the limits as
guesses one after another are. Those arriving while the guesses being checked
fill a count start its lock; no row stays locked while a password is hashed.

The counts live in the database, so every worker of a server shares them.
Time is `timesource.wall_now()`: real time, also under a demo's as-of date,
under which a lockout would never end (tests pin it).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import NoReturn

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When

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


def begin(username: str, address: str) -> Attempt:
    """Count a sign-in of `username` from `address` as a failure in each of
    its three counts before its password is checked, or raise SignInLocked
    if a lock refuses it (the lock that ends last, when several do).

    Each count is taken by one conditional UPDATE, refused when a lock holds
    or the count is at its limit, so guesses sent at once cannot all pass
    one check before any is counted; no row stays locked while the password
    is hashed. A count found at its limit with no lock (guesses still being
    checked fill it) starts the lock now. The Attempt says how it ended."""
    while True:
        now = timesource.wall_now()
        rules = limits()
        counted_in, known, locks = _begin(username, address, now, rules)
        if locks:
            lock = max(locks, key=lambda row: row.locked_until)
            _refuse(lock, username, address, now)
        if counted_in is not None:
            return Attempt(username, address, now, counted_in, known is not None)
        # A full count's row was deleted before its lock started (unlocked by
        # hand meanwhile): count this sign-in afresh.


def _begin(
    username: str, address: str, now: dt.datetime, rules: Limits
) -> tuple[tuple[str, ...] | None, dt.datetime | None, list[SignInFailures]]:
    """One round of `begin`: the counts this sign-in was counted in (None
    if in none), when its username last signed in from its address if that
    lets it through a lock of the username, and the locks refusing it."""
    full: list[str] = []
    locks: list[SignInFailures] = []
    reserved: list[str] = []
    with transaction.atomic():
        pair = SignInFailures.objects.filter(
            **_match(Scope.PAIR, username, address)
        ).first()
        known = _known(pair, now, rules)
        with transaction.atomic():
            for scope in _BREADTH:
                refusing = _reserve(scope, username, address, now, rules)
                if refusing is None:
                    reserved.append(scope)
                elif scope == Scope.USERNAME and known:
                    _log_let_through(refusing, username, address, known, now)
                elif _in_force(refusing, now):
                    locks.append(refusing)
                else:
                    full.append(scope)
            if locks or full:
                transaction.set_rollback(True)  # this sign-in counts nowhere
        for scope in full:
            row, started = _lock_at_limit(scope, username, address, now, rules)
            if started and row is not None:
                _log_lock(row, username, address, rules)
            if row is not None and _in_force(row, now):
                locks.append(row)
    counted_in = None if full or locks else tuple(reserved)
    return counted_in, known, locks


@dataclass(frozen=True)
class Attempt:
    """A sign-in counted as a failure (begin) while its password is checked:
    `failed` or `succeeded` says how it ended."""

    username: str
    address: str
    began: dt.datetime
    counted_in: tuple[str, ...]
    known: bool

    def failed(self) -> SignInLocked | None:
        """The password was wrong: the failure stays counted, and a count it
        brought to its limit starts a lock. The lock this failure started
        that refuses this client (the broadest, if several), else None."""
        username, address = self.username, self.address
        log.warning("sign-in failed for username %r from %r", username, address)
        now = timesource.wall_now()
        rules = limits()
        started = []
        with transaction.atomic():
            for scope in self.counted_in:
                row, began = _lock_at_limit(
                    scope, username, address, now, rules, counted=True
                )
                if began:
                    started.append(row)
        for row in started:
            _log_lock(row, username, address, rules)
        refusing = [
            row for row in started if not (row.scope == Scope.USERNAME and self.known)
        ]
        if not refusing:
            return None
        return SignInLocked(refusing[0].scope, refusing[0].locked_until, now)

    def succeeded(self) -> None:
        """The password was right: this sign-in is no failure. Its count
        for the address and for the username from all addresses is taken
        back, that of the username from this address starts again, and the
        address is remembered as one the username signs in from."""
        now = timesource.wall_now()
        username, address = self.username, self.address
        with transaction.atomic():
            for scope in self.counted_in:
                if scope != Scope.PAIR:
                    _take_back(scope, username, address, self.began, now)
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


def _reserve(
    scope: str, username: str, address: str, now: dt.datetime, rules: Limits
) -> SignInFailures | None:
    """Count one failure in `scope` ahead, unless a lock holds or the count is
    at its limit: then the row that refuses it. One conditional UPDATE, or an
    INSERT for a count not yet kept; a count older than the window starts
    again at this one."""
    match = _match(scope, username, address)
    stale = Q(since__lte=now - rules.window)
    room = (Q(locked_until__isnull=True) | Q(locked_until__lte=now)) & (
        stale | Q(failures__lt=rules.of(scope))
    )
    rows = SignInFailures.objects.filter(**match)
    # Each round counts, finds the refusing row, or makes the row; it goes
    # round again only if another sign-in made the row meanwhile.
    while True:
        if rows.filter(room).update(
            failures=Case(When(stale, then=Value(1)), default=F("failures") + 1),
            since=Case(When(stale, then=Value(now)), default=F("since")),
        ):
            return None
        row = rows.first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                SignInFailures.objects.create(**match, failures=1, since=now)
        except IntegrityError:
            continue
        _forget_stale(now, rules)  # a new count: a cheap moment
        return None


def _lock_at_limit(
    scope: str,
    username: str,
    address: str,
    now: dt.datetime,
    rules: Limits,
    *,
    counted: bool = False,
) -> tuple[SignInFailures | None, bool]:
    """Start the lock of `scope` unless one holds: with `counted`, only if its
    count within the window reached the limit (a failure counted there);
    without, because a sign-in found it at the limit. The row afterwards, and
    whether this call started the lock; one conditional UPDATE, so sign-ins
    at once start it once. The lock's end gives a fresh count."""
    rows = SignInFailures.objects.filter(**_match(scope, username, address))
    reached = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    if counted:
        reached &= Q(failures__gte=rules.of(scope), since__gt=now - rules.window)
    started = rows.filter(reached).update(
        failures=0, since=now, locked_until=now + rules.lockout
    )
    return rows.first(), bool(started)


def _take_back(
    scope: str, username: str, address: str, began: dt.datetime, now: dt.datetime
) -> None:
    """Take back the failure a successful sign-in that began at `began`
    counted in `scope`, if it is still in the count: a lock since, or a count
    started again, already dropped it. A count left at none with no lock is
    deleted: a success leaves no row of its own."""
    rows = SignInFailures.objects.filter(**_match(scope, username, address))
    rows.filter(failures__gt=0, since__lte=began).update(failures=F("failures") - 1)
    rows.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now), failures=0
    ).delete()


def _in_force(row: SignInFailures | None, now: dt.datetime) -> bool:
    return row is not None and row.locked_until is not None and row.locked_until > now


def _refuse(
    lock: SignInFailures, username: str, address: str, now: dt.datetime
) -> NoReturn:
    log.warning(
        "sign-in refused for username %r from %r until %s by the limit %s",
        username,
        address,
        _when(lock.locked_until),
        _LIMIT_NAMES[lock.scope],
    )
    raise SignInLocked(lock.scope, lock.locked_until, now)


def _log_let_through(
    row: SignInFailures,
    username: str,
    address: str,
    known: dt.datetime,
    now: dt.datetime,
) -> None:
    if _in_force(row, now):
        log.info(
            "sign-in for username %r from %r let through the username's lock: "
            "it signed in from there on %s",
            username,
            address,
            _when(known),
        )


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
