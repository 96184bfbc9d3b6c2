"""Notices: messages to one person, shown on /notices/ and queued for delivery.

`notify` is the one way to tell someone something. It writes the notice and,
in the same transaction, one outbox row (`Delivery`) per channel that is
switched on: email when DEALGATE_SMTP_HOST is set and the person has an
address, the webhook when DEALGATE_WEBHOOK_URL is set. The sender
(dealgate.clocks.outbox) delivers them later, with retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.core.text import counted, cut

from . import bulk
from .models import Delivery, Notice

log = logging.getLogger("dealgate.notices")


def notice_time(at: dt.datetime, zone: str) -> str:
    """`at` as every notice says a time, in the app, a mail and the webhook's
    text alike: in `zone` (an IANA name, the pipeline's), the zone named, as
    "Tue 02 Jun 17:00 (Europe/Berlin)". The zone's name, never an
    abbreviation such as CEST, which several zones share."""
    return f"{at.astimezone(ZoneInfo(zone)):%a %d %b %H:%M} ({zone})"


def notify(
    user: User,
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    deal_id: int | None = None,
    lead_id: int | None = None,
    clock_id: int | None = None,
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> Notice:
    """Write a notice for `user` and queue its deliveries. Call it inside the
    transaction that makes the change the notice reports, so both or neither
    are kept. `data` (JSON) goes to the webhook beside the text, for a
    program to read (`Notice.data`)."""
    at = at or timesource.now()
    notice = Notice.objects.create(
        user=user,
        kind=kind,
        title=cut(title, 300),
        body=body,
        url=url,
        deal_id=deal_id,
        lead_id=lead_id,
        clock_id=clock_id,
        created_at=at,
        data=data,
    )
    queue_deliveries([notice.pk])
    log.info("notice %s (%s) for %s: %s", notice.pk, kind, user.username, title)
    return notice


def channels() -> list[str]:
    """The delivery channels switched on in settings."""
    enabled = []
    if settings.SMTP_HOST:
        enabled.append(Delivery.Channel.EMAIL)
    if settings.WEBHOOK_URL:
        enabled.append(Delivery.Channel.WEBHOOK)
    return enabled


def queue_deliveries(notice_ids: Sequence[int]) -> int:
    """Add the outbox rows of these notices, first attempt due at once: at
    the real time (`timesource.wall_now`) the sender counts its leases and
    retries in (dealgate.clocks.outbox), whatever the business clock says.

    Set-based: one INSERT ... SELECT per channel (and per thousand ids on
    SQLite). Email goes only to people with an address. Returns rows added.
    """
    added = 0
    quote = connection.ops.quote_name
    deliveries, notices = quote(Delivery._meta.db_table), quote(Notice._meta.db_table)
    users = quote(User._meta.db_table)
    when = connection.ops.adapt_datetimefield_value(timesource.wall_now())
    for channel in channels():
        only_with_email = (
            " AND u.email <> ''" if channel == Delivery.Channel.EMAIL else ""
        )
        for condition, params, _ in bulk.where_in("n.id", notice_ids):
            sql = (
                f"INSERT INTO {deliveries}"
                " (notice_id, channel, state, attempts, next_attempt_at, last_error)"
                " SELECT n.id, %s, %s, 0, %s, ''"
                f" FROM {notices} n JOIN {users} u ON u.id = n.user_id"
                f" WHERE {condition}{only_with_email}"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [channel, Delivery.State.PENDING, when, *params])
                added += cursor.rowcount
    return added


def notices_for(user: User) -> QuerySet[Notice]:
    """A person's notices, newest first."""
    return Notice.objects.filter(user=user).order_by("-created_at", "-id")


def unread_count(user: User) -> int:
    """Unread notices of `user` (one indexed COUNT)."""
    return Notice.objects.filter(user=user, read_at=None).count()


def mark_read(user: User, notice_ids: Sequence[int] | None = None) -> int:
    """Mark `user`'s notices read: those listed, or all when None. Idempotent:
    a notice already read keeps its first read time. Returns how many changed."""
    unread = Notice.objects.filter(user=user, read_at=None)
    if notice_ids is not None:
        unread = unread.filter(pk__in=notice_ids)
    return unread.update(read_at=timesource.now())


@lru_cache(maxsize=1)
def _url_patterns() -> tuple[str, str, str]:
    """The paths of a deal's and a lead's page ("{}" for the id) and of
    Today; "" for one this site does not serve."""
    found = []
    for name, args in (("deal", [0]), ("leads:lead", [0]), ("today", [])):
        try:
            found.append(reverse(name, args=args).replace("/0/", "/{}/"))
        except NoReverseMatch:
            found.append("")
    return found[0], found[1], found[2]


def subject_url(deal_id: int | None, lead_id: int | None) -> str:
    """The page of a deal or lead ("/deals/12/"), or "" when there is none."""
    deal_url, lead_url, _ = _url_patterns()
    if deal_id is not None and deal_url:
        return deal_url.format(deal_id)
    if lead_id is not None and lead_url:
        return lead_url.format(lead_id)
    return ""


def today_url() -> str:
    """The Today page, where a digest's entries are listed; "" without it."""
    return _url_patterns()[2]


# What ran out, as a successor's notice lists it.
_RAN_OUT = {
    "age": "over the stage's age limit",
    "response": "response window ran out",
    "next_step": "next step overdue",
}


def overdue_of(person: User) -> list[int]:
    """Ids of `person`'s clocks that ran out and are not put right (one
    query), read before a hand-over moves them (`tell_inherited`)."""
    from .models import Clock

    mine = Clock.objects.filter(
        responsible=person, state=Clock.State.BREACHED, is_open=True
    )
    return list(mine.order_by("due_at", "pk").values_list("pk", flat=True))


def tell_inherited(
    clock_ids: Sequence[int], leaver: User, successor: User
) -> Notice | None:
    """Tell `successor`, in one notice, of the overdue work they took over
    from `leaver` (`clock_ids`, from `overdue_of`): the breach notices went
    to the leaver, and the next word would otherwise be their manager's
    escalation. Only the clocks still open and now the successor's; none,
    no notice. Call it in the hand-over's transaction."""
    from .models import DIGEST_LINES, Clock

    clocks = list(
        Clock.objects.filter(pk__in=clock_ids, responsible=successor, is_open=True)
        .select_related("deal", "lead")
        .order_by("due_at", "pk")
    )
    if not clocks:
        return None
    items = [
        {
            "clock": clock.pk,
            "title": f"{cut(clock.subject_label, 120)}: {_RAN_OUT[clock.kind]}",
            "url": subject_url(clock.deal_id, clock.lead_id),
            "deal": clock.deal_id,
            "lead": clock.lead_id,
        }
        for clock in clocks
    ]
    deals = len({clock.deal_id for clock in clocks if clock.deal_id is not None})
    leads = len({clock.lead_id for clock in clocks if clock.deal_id is None})
    what = " and ".join(
        counted(count, noun)
        for count, noun in ((deals, "deal"), (leads, "lead"))
        if count
    )
    at = timesource.now()
    notice = Notice.objects.create(
        user=successor,
        kind=Notice.Kind.BREACH,
        title=f"Taken over from {leaver.display_name}: {what} already overdue",
        body=(
            f"{leaver.display_name} left, and these are yours now. Each had "
            "already run out: act on them first."
        ),
        url=today_url(),
        created_at=at,
        items=items[:DIGEST_LINES],
        more_items=max(0, len(items) - DIGEST_LINES),
    )
    queue_deliveries([notice.pk])
    log.info(
        "notice %s (breach) for %s: %d overdue clocks taken over from %s",
        notice.pk,
        successor.username,
        len(clocks),
        leaver.username,
    )
    return notice
