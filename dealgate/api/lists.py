"""Lists in the API: one page of rows in id order, and the address of the
next page.

A list answers at most `limit` rows (DEFAULT_LIMIT unless asked, MOST_ROWS
at most), oldest first (ascending id), and `next`: the same address, its
filters kept, with `after` set to the last id answered; null on the last
page. A page is read by its id, not by its position, so a row added or
removed while a client pages through never makes a row repeat or go
missing; a row added meanwhile comes on a later page. Each page is one
query whatever its size, beside the look-ups of what its filters name.
With `updated_since` a list holds the rows changed at or after that
instant and is read in the order they changed: by `updated_at`, then id,
a page at a time from a cursor of both: `next` sets `updated_since` to
the last row's `updated_at` and `after` to its id, so `after` then passes
over only the rows changed at exactly that instant. A row that changes
while a client pages through is stamped later than any it has read and
comes again on a later page; none goes missing. To sync later, ask again
with the `updated_at` and id of the last row read as `updated_since` and
`after`. A stamp is the instant the write ran, not the one its
transaction committed at: a write that was still running as a page was
read may carry a stamp before that page's rows, so a sync that starts
again a little earlier (a minute) than where it stopped misses none.
Whoever may read one row of a kind (the endpoint's authentication: everyone
signed in reads every deal and lead) may list them, so a list holds exactly
what the single reads answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from ninja import Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from dealgate.accounts.models import User
from dealgate.core.numbers import Place, read_place
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline

DEFAULT_LIMIT = 50
MOST_ROWS = 200

Row = TypeVar("Row", bound=Model)

LIMIT = Query(
    DEFAULT_LIMIT,
    ge=1,
    le=MOST_ROWS,
    description=f"how many rows a page holds, 1 to {MOST_ROWS}; "
    f"{DEFAULT_LIMIT} by default",
)
AFTER = Query(
    0,
    ge=0,
    description="answer the rows after this id: `next` sets it to the last id "
    "of the page it follows",
)


def _instant(value: Any) -> dt.datetime | None:
    """`value`, ISO 8601 text, as an instant in UTC (a time without an
    offset, or a date alone, read as UTC). Refused (422, naming the
    parameter): any other text, such as a number pydantic would read as
    seconds since 1970, and a time that lies outside the years 1 to 9999
    once in UTC, which no database column holds."""
    if value is None or isinstance(value, dt.datetime):
        at = value
    else:
        try:
            at = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise PydanticCustomError(
                "iso_text",
                "must be an ISO 8601 datetime such as 2026-06-01T09:00:00Z, or "
                "a date such as 2026-06-01, got {value}",
                {"value": str(value)[:40]},
            ) from None
    if at is None:
        return None
    if at.tzinfo is None:
        return at.replace(tzinfo=dt.UTC)
    try:
        return at.astimezone(dt.UTC)
    except OverflowError:
        raise PydanticCustomError(
            "time_range",
            "{value} lies outside the years 1 to 9999 once in UTC",
            {"value": at.isoformat()},
        ) from None


# A query's time: ISO 8601 only, in UTC once read (see `_instant`).
Instant = Annotated[dt.datetime | None, BeforeValidator(_instant)]

CREATED_SINCE = Query(
    None,
    description="only those created at or after this instant: ISO 8601, "
    "2026-06-01T09:00:00Z or with an offset (+ written %2B in an address); a "
    "time without one, or a date alone, is UTC",
)


UPDATED_SINCE = Query(
    None,
    description="only those changed at or after this instant (ISO 8601, as "
    "created_since), listed in the order they changed (updated_at, then id) "
    "instead of by id; `after` then passes over only the rows changed at "
    "exactly this instant. `next` moves both on, so a row changed while you "
    "page comes again on a later page and none is missed",
)


def page_of(
    request: HttpRequest,
    rows: QuerySet[Row],
    *,
    limit: int,
    after: int,
    updated_since: dt.datetime | None = None,
) -> tuple[list[Row], str | None]:
    """The rows of `rows` after id `after`, at most `limit`, in id order, and
    the address of the next page (None on the last): one query.

    With `updated_since`, the rows changed at or after it, by (updated_at,
    id) from the cursor (updated_since, after): those changed later, and
    those changed at exactly `updated_since` with an id above `after`."""
    if updated_since is None:
        rows = rows.filter(pk__gt=after).order_by("pk")
    else:
        rows = (
            rows.filter(updated_at__gte=updated_since)
            .filter(Q(updated_at__gt=updated_since) | Q(pk__gt=after))
            .order_by("updated_at", "pk")
        )
    taken = list(rows[: limit + 1])
    if len(taken) <= limit:
        return taken, None
    taken = taken[:limit]
    last = taken[-1]
    query = request.GET.copy()
    query["after"] = str(last.pk)
    if updated_since is not None:
        query["updated_since"] = last.updated_at.astimezone(dt.UTC).isoformat()
    return taken, f"{request.path}?{query.urlencode()}"


# What `owner` is sent as for the rows no one owns: the board's and the
# reports' spelling, which no username can be (they hold no parentheses).
NO_OWNER = "(none)"

OWNER = Query(
    None,
    description=f"the owner's username, or {NO_OWNER} for those no one owns",
)


def owned_by(username: str) -> Q:
    """The rows `owner` names: those of the user `username`, or with NO_OWNER
    those no one owns; a refusal naming `owner` (422) for a username no one
    has."""
    if username == NO_OWNER:
        return Q(owner__isnull=True)
    return Q(owner=user_named(username))


PLACE = Query(
    None,
    description="answer the rows after this place: TIME,ID, the time and id "
    "of the last row of the page it follows, as the next page's address "
    "writes it",
)


def place_named(text: str | None, where: str) -> Place | None:
    """The place `after` names in `where` ("the deal's history"); None when
    none is sent; a refusal naming `after` (422) for text that is no
    TIME,ID with an offset."""
    if text is None:
        return None
    try:
        return read_place(text, where, timeless=False)
    except ValidationError:
        raise ValidationError(
            f"after must be a place in {where} as the next page's address "
            f"writes it (TIME,ID: a time with its offset, and an id), got "
            f"{text[:40]!r}",
            field="after",
        ) from None


def page_in_order(
    request: HttpRequest,
    rows: QuerySet[Row],
    *,
    field: str,
    limit: int,
    after: Place | None,
) -> tuple[list[Row], str | None]:
    """The rows of `rows` after the place `after`, at most `limit`, in the
    order of their `field` (an instant no row lacks), then id, and the
    address of the next page (None on the last): one query, two with
    `after`. The next page starts after the last row's place, not at a
    count of rows, so a row added meanwhile later in that order comes on a
    later page and none repeats.

    When `after`'s id names a row of `rows`, the page starts after that
    row's place as stored, whatever time `after` gives: JSON answers an
    instant to the millisecond while it is stored to the microsecond, so a
    client writing a place from a row it read (its time and id, as the API
    says it may) would otherwise get that row again, forever with a page of
    one. An id of no row of `rows` is taken with the time as given."""
    if after is not None:
        stored = rows.filter(pk=after.pk).values_list(field, flat=True).first()
        at = after.at if stored is None else stored
        rows = rows.filter(
            Q(**{f"{field}__gt": at}) | Q(**{field: at, "pk__gt": after.pk})
        )
    taken = list(rows.order_by(field, "pk")[: limit + 1])
    if len(taken) <= limit:
        return taken, None
    taken = taken[:limit]
    last = taken[-1]
    query = request.GET.copy()
    query["after"] = str(Place(getattr(last, field).astimezone(dt.UTC), last.pk))
    return taken, f"{request.path}?{query.urlencode()}"


def user_named(username: str, field: str = "owner") -> User:
    """The user `username`, or a refusal naming `field` (422)."""
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ValidationError(f"{field}: there is no user {username!r}", field=field)
    return user


def pipeline_named(key: str) -> Pipeline:
    """The pipeline `key`, or a refusal naming `pipeline` (422)."""
    pipeline = Pipeline.objects.filter(key=key).first()
    if pipeline is None:
        raise ValidationError(
            f"pipeline: there is no pipeline {key!r}", field="pipeline"
        )
    return pipeline
