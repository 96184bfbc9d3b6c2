"""Creating a deal once: a request sent twice (a double click, a client's
retry after a timeout) makes one deal.

A door that creates deals by hand passes a key with the request: the API
the client's `Idempotency-Key` header, the new-deal page the one-time token
its form carries. The first request with a key makes the deal and keeps the
key beside it (`IdempotencyKey`) in the same transaction. The same key sent
again by the same person with the same request gets that deal and the first
answer back, and nothing is written; with another request it is refused
(`KeyReused`), since answering with a deal it did not ask for would mislead.
A refused creation keeps no key: sent again, it is tried again.

Keys count for `KEY_LIFETIME` of real time (`timesource.wall_now`, as
sign-in limits count): a demo's as-of date is fixed, and keys dated by it
would never expire there, then all expire at once when the database goes
back to real time. Older ones are removed whenever a key is written, so the
table holds about a day of creations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline

from .models import Deal, IdempotencyKey
from .services import create_deal

log = logging.getLogger("dealgate.deals")

# How long a key answers with its deal. A client retries within minutes; a
# day also covers a laptop that slept with the form open. Stripe keeps its
# keys as long.
KEY_LIFETIME = dt.timedelta(hours=24)
# Visible ASCII (HTTP's VCHAR, ! to ~), as the README says: no space, which
# a proxy may fold or a client trim.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# The most expired keys one write removes, so a backlog is worked off in
# parts instead of in one long statement.
_FORGET_AT_ONCE = 1_000


class KeyReused(ValidationError):
    """A key already used, within its lifetime, for another request."""

    code = "idempotency_key_reused"

    def __init__(self, message: str, *, field: str, deal_id: int) -> None:
        super().__init__(message, field=field)
        self.deal_id = deal_id


@dataclass(frozen=True)
class Created:
    """The deal a request made, the answer it got, and whether this request
    only repeated an earlier one (nothing was written)."""

    deal: Deal
    answer: dict[str, Any]
    replayed: bool


def fingerprint(request: Mapping[str, Any]) -> str:
    """A SHA-256 of what a request asks for, its keys in any order."""
    text = json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def create_deal_once(
    pipeline: Pipeline,
    fields: dict[str, Any],
    *,
    by: User,
    door: str,
    key: str,
    request: str,
    field: str,
    stage: str = "",
    source: str = "web",
    answer: Callable[[Deal], dict[str, Any]] = lambda deal: {},
) -> Created:
    """`create_deal`, unless `by` sent `key` through `door` (an
    `IdempotencyKey.Door`) before: then the deal that request made.

    `request` is the request's `fingerprint`; `field` names the key where
    the door takes it, for refusals: a key that is not 1 to 255 visible
    ASCII characters, or one used for another request (`KeyReused`).
    `answer` is what the door answers for the new deal, kept with the key
    and given back to a repeat.

    Two requests with one key at the same moment make one deal: the second
    one's insert of the key waits on the unique constraint until the first
    commits, then fails, and the second answers with the first one's deal.
    """
    if not _KEY.fullmatch(key):
        raise ValidationError(
            f"{field} must be 1 to 255 visible ASCII characters (a UUID, say), "
            f"got {key[:300]!r}",
            field=field,
        )
    now = timesource.wall_now()
    kept = _kept(by, door, key, now)
    if kept is not None:
        return _repeat(kept, request, field, by)
    try:
        with transaction.atomic():
            _forget_expired(by, door, key, now)
            claim = IdempotencyKey.objects.create(
                user=by, door=door, key=key, fingerprint=request, created_at=now
            )
            deal = create_deal(pipeline, fields, by=by, stage=stage, source=source)
            claim.deal, claim.answer = deal, answer(deal)
            claim.save(update_fields=["deal", "answer"])
    except IntegrityError:
        kept = _kept(by, door, key, now)
        if kept is None:
            raise  # not the key's constraint
        return _repeat(kept, request, field, by)
    return Created(deal, claim.answer, replayed=False)


def _kept(by: User, door: str, key: str, now: dt.datetime) -> IdempotencyKey | None:
    """The unexpired record of `key`, with its deal."""
    found = IdempotencyKey.objects.filter(
        user=by, door=door, key=key, created_at__gte=now - KEY_LIFETIME
    )
    return found.select_related("deal").first()


def _repeat(kept: IdempotencyKey, request: str, field: str, by: User) -> Created:
    if kept.fingerprint != request:
        raise KeyReused(
            f"{field} {kept.key!r} was used in the last "
            f"{KEY_LIFETIME.total_seconds() / 3600:.0f} hours for another request, "
            f"which made deal {kept.deal_id}; send a new key for a new deal",
            field=field,
            deal_id=kept.deal_id,
        )
    log.info(
        "deal %s: the same %s request sent again by %s made nothing new",
        kept.deal_id,
        IdempotencyKey.Door(kept.door).label,
        by.username,
    )
    return Created(kept.deal, kept.answer, replayed=True)


def _forget_expired(by: User, door: str, key: str, now: dt.datetime) -> None:
    """Remove keys past their lifetime: this one's, which the new record
    replaces, and up to `_FORGET_AT_ONCE` others (on PostgreSQL, those no
    other writer is removing at the same moment)."""
    expired = IdempotencyKey.objects.filter(created_at__lt=now - KEY_LIFETIME)
    expired.filter(user=by, door=door, key=key).delete()
    ids = expired.select_for_update(skip_locked=True).order_by("pk")
    ids = list(ids.values_list("pk", flat=True)[:_FORGET_AT_ONCE])
    if ids:
        IdempotencyKey.objects.filter(pk__in=ids).delete()
