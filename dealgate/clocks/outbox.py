"""The sender: delivers outbox rows (`Delivery`) by email and webhook.

One pass (`deliver_due`):

1. leases up to `limit` pending rows whose next attempt is due, in a short
   transaction (SKIP LOCKED on PostgreSQL): each gets `attempts + 1` and a
   next attempt `LEASE` ahead, so a crashed sender's rows come back by
   themselves and a parallel sender leaves them alone;
2. sends each one, outside any transaction (a slow server holds no locks);
3. marks each row sent in a transaction of its own right after its send,
   or schedules the next attempt with back-off (30 s, doubling, at most an
   hour). Only a refusal that names this message or address (an SMTP 5xx
   for the recipient or the content, an HTTP 4xx other than 408 and 429)
   fails a row for good; every other failure is retried without end, so a
   dead mail server or webhook delays notices but loses none.

Delivery is at least once. A crash between a send and its mark sends that
notice again after the lease; receivers can drop the repeat by its
Message-ID (`<dealgate-notice-ID@domain>`) or the webhook's Idempotency-Key
header (`dealgate-notice-ID`), which stay the same on every attempt.

Two clocks. Leases, back-off and which rows are due count real time
(`timesource.wall_now`, the pass's `wall`), as `queue_deliveries` stamps a
first attempt: under a fixed business clock (a demo's recorded date, --as-of,
DEALGATE_AS_OF) a row waiting for a retry, or leased by a sender that
crashed, must still come due again minutes later. A mail's Date header is
real time too: servers and clients judge it against their own clocks, and one
years back sorts the mail out of sight and counts against it as spam. What the
record says happened stays in the business clock (`now`, `timesource.now`),
beside the notice's own time: a row's `sent_at`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from dealgate import timesource
from dealgate.core.text import counted

from .models import DIGEST_LINES, Delivery
from .notices import today_url

log = logging.getLogger("dealgate.notices")

LEASE = dt.timedelta(minutes=10)
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
PASS_LIMIT = 100
TIMEOUT_SECONDS = 10.0
PENDING = Delivery.State.PENDING


class Permanent(Exception):
    """The receiver refused this message for good; retrying cannot help."""


class Unreachable(Exception):
    """The receiver cannot be reached at all: the rest of the pass would fail
    the same way, so it is not tried."""


@dataclass
class DeliveryResult:
    """What the sender did. `sent`, `retried` and `failed` count deliveries
    (one notice goes out once per channel: a mail and a webhook post are two
    deliveries of it); `by_channel` splits them per channel, and
    `notices_sent` holds the notices of which at least one delivery went out."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    notices_sent: set[int] = field(default_factory=set)

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed

    def count(self, channel: str, outcome: str, items: Iterable[Outgoing]) -> None:
        """Count `items` of `channel` as `outcome`: sent, retried or failed."""
        items = list(items)
        setattr(self, outcome, getattr(self, outcome) + len(items))
        counts = self.by_channel.setdefault(
            channel, {"sent": 0, "retried": 0, "failed": 0}
        )
        counts[outcome] += len(items)
        if outcome == "sent":
            self.notices_sent.update(item.notice_id for item in items)

    def add(self, other: DeliveryResult) -> None:
        """Fold another pass's counts into these."""
        for name in ("sent", "retried", "failed", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for channel, counts in other.by_channel.items():
            mine = self.by_channel.setdefault(
                channel, {"sent": 0, "retried": 0, "failed": 0}
            )
            for outcome, number in counts.items():
                mine[outcome] += number
        self.notices_sent |= other.notices_sent

    def summary(self) -> str:
        """One line: notices sent, then their deliveries per channel and
        those to retry or refused ("6 notices sent in 12 deliveries (6 by
        email, 6 by webhook); 0 deliveries to retry, 0 refused for good")."""
        notices = len(self.notices_sent)
        channels = ", ".join(
            f"{counts['sent']:,} by {channel}"
            for channel, counts in sorted(self.by_channel.items())
            if counts["sent"]
        )
        said = f"{counted(notices, 'notice')} sent in {counted(self.sent, 'delivery')}"
        if channels:
            said += f" ({channels})"
        later = self._by_channel("retried")
        failed = self._by_channel("failed")
        return (
            f"{said}; {counted(self.retried, 'delivery')} to retry{later}, "
            f"{self.failed:,} refused for good{failed}"
        )

    def _by_channel(self, outcome: str) -> str:
        parts = [
            f"{counts[outcome]:,} by {channel}"
            for channel, counts in sorted(self.by_channel.items())
            if counts[outcome]
        ]
        return f" ({', '.join(parts)})" if parts else ""


@dataclass(frozen=True)
class Outgoing:
    """One leased delivery with what its message needs."""

    id: int
    channel: str
    attempts: int
    notice_id: int
    title: str
    body: str
    url: str
    email: str
    name: str
    # A digest's entries ({"clock", "title", "url"}); empty for other notices.
    items: list[dict[str, Any]] = field(default_factory=list)
    # A digest's entries not kept in `items`, only counted.
    more_items: int = 0
    # What the notice is about and its data, for the webhook's "dealgate".
    kind: str = ""
    deal_id: int | None = None
    lead_id: int | None = None
    data: dict[str, Any] | None = None


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after `attempts` failed ones: 30 s, 1 min,
    2 min ... at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def deliver_due(
    *,
    now: dt.datetime | None = None,
    wall: dt.datetime | None = None,
    limit: int = PASS_LIMIT,
) -> DeliveryResult:
    """One pass of the sender over the deliveries due at the real instant
    `wall` (default `timesource.wall_now()`); `now`, the business clock's
    instant (default `timesource.now()`), is what a sent row records (see
    the module docstring). Never raises for a receiver's failure; returns
    the counts."""
    times = _Times(now or timesource.now(), wall or timesource.wall_now())
    started = time.perf_counter()
    result = DeliveryResult()
    leased = _lease(times.wall, limit)
    for channel, sender in (
        (Delivery.Channel.EMAIL, lambda: SmtpSender(date=times.wall)),
        (Delivery.Channel.WEBHOOK, WebhookSender),
    ):
        items = [item for item in leased if item.channel == channel]
        if items:
            _send_all(sender(), items, times, result)
    result.seconds = time.perf_counter() - started
    if leased:
        log.info("sender: %s in %.3f s", result.summary(), result.seconds)
    return result


def deliver_all_due(
    *, now: dt.datetime | None = None, wall: dt.datetime | None = None
) -> DeliveryResult:
    """Passes until nothing due is left or a pass delivers nothing new; each
    reads the clocks not given afresh."""
    total = DeliveryResult()
    while True:
        result = deliver_due(now=now, wall=wall)
        total.add(result)
        if result.attempted < PASS_LIMIT or result.sent == 0:
            return total


@dataclass(frozen=True)
class _Times:
    """A pass's two clocks: `now` for what the record says, `wall` for the
    machinery (leases, retries, the Date header)."""

    now: dt.datetime
    wall: dt.datetime


def _lease(wall: dt.datetime, limit: int) -> list[Outgoing]:
    """Lease up to `limit` rows due at the real instant `wall`."""
    with transaction.atomic():
        due = Delivery.objects.filter(state=PENDING, next_attempt_at__lte=wall)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=wall + LEASE
        )
        rows = Delivery.objects.filter(pk__in=ids).values(
            "id",
            "channel",
            "attempts",
            "notice_id",
            "notice__title",
            "notice__body",
            "notice__url",
            "notice__items",
            "notice__more_items",
            "notice__kind",
            "notice__deal_id",
            "notice__lead_id",
            "notice__data",
            "notice__user__email",
            "notice__user__username",
            "notice__user__first_name",
            "notice__user__last_name",
        )
        return [_outgoing(row) for row in rows.order_by("notice_id")]


def _outgoing(row: dict[str, Any]) -> Outgoing:
    name = f"{row['notice__user__first_name']} {row['notice__user__last_name']}"
    return Outgoing(
        id=row["id"],
        channel=row["channel"],
        attempts=row["attempts"],
        notice_id=row["notice_id"],
        title=row["notice__title"],
        body=row["notice__body"],
        url=row["notice__url"],
        email=row["notice__user__email"],
        name=name.strip() or row["notice__user__username"],
        items=row["notice__items"] or [],
        more_items=row["notice__more_items"],
        kind=row["notice__kind"],
        deal_id=row["notice__deal_id"],
        lead_id=row["notice__lead_id"],
        data=row["notice__data"],
    )


def _send_all(
    sender: Any, items: list[Outgoing], times: _Times, result: DeliveryResult
) -> None:
    wall = times.wall
    try:
        for index, item in enumerate(items):
            try:
                sender.send(item)
            except Permanent as exc:
                _mark_failed(item, str(exc))
                result.count(item.channel, "failed", [item])
                continue
            except Unreachable as exc:
                rest = items[index:]
                _mark_retry(rest, wall, str(exc))
                result.count(item.channel, "retried", rest)
                log.warning(
                    "%s: %s; %d deliveries will be tried again from %s",
                    item.channel,
                    exc,
                    len(rest),
                    (wall + retry_delay(item.attempts)).isoformat(),
                )
                return
            except Exception as exc:
                # A message this code could not make or send: keep it for a
                # later attempt (a fixed release sends it) and go on with the
                # rest, instead of failing every pass at the same row.
                log.exception(
                    "notice %s by %s could not be sent; tried again from %s",
                    item.notice_id,
                    item.channel,
                    (wall + retry_delay(item.attempts)).isoformat(),
                )
                _mark_retry(
                    [item], wall, _without_secrets(f"{type(exc).__name__}: {exc}")
                )
                result.count(item.channel, "retried", [item])
                continue
            _mark_sent(item, times.now)
            result.count(item.channel, "sent", [item])
    finally:
        sender.close()


def _without_secrets(text: str) -> str:
    """`text` without the webhook URL's token or the SMTP password, which an
    unforeseen error may quote; it is stored where admins can read it."""
    url = settings.WEBHOOK_URL or ""
    try:
        parts = urlsplit(url) if url else None
    except ValueError:
        parts = None
    bare, auth = split_credentials(url) if url else ("", {})
    secrets = [url, bare, parts and parts.path, parts and parts.query]
    if auth:
        secrets += [
            parts.password,
            unquote(parts.password or ""),
            auth["Authorization"].split()[1],
        ]
    for secret in secrets:
        if secret and len(secret) > 1:
            text = text.replace(secret, "[DEALGATE_WEBHOOK_URL]")
    if settings.SMTP_PASSWORD:
        text = text.replace(settings.SMTP_PASSWORD, "[DEALGATE_SMTP_PASSWORD]")
    return text


def _mark_sent(item: Outgoing, now: dt.datetime) -> None:
    # Its own transaction, straight after the send: the window in which a
    # crash would send this notice twice is this one statement.
    with transaction.atomic():
        Delivery.objects.filter(pk=item.id, state=PENDING).update(
            state=Delivery.State.SENT, sent_at=now, last_error=""
        )
    log.debug("notice %s sent by %s", item.notice_id, item.channel)


def _mark_retry(items: Iterable[Outgoing], wall: dt.datetime, error: str) -> None:
    with transaction.atomic():
        for item in items:
            Delivery.objects.filter(pk=item.id, state=PENDING).update(
                next_attempt_at=wall + retry_delay(item.attempts),
                last_error=error[:300],
            )


def _mark_failed(item: Outgoing, error: str) -> None:
    with transaction.atomic():
        Delivery.objects.filter(pk=item.id, state=PENDING).update(
            state=Delivery.State.FAILED, last_error=error[:300]
        )
    log.error(
        "notice %s to %s by %s refused for good, not retried: %s",
        item.notice_id,
        item.name,
        item.channel,
        error,
    )


def message_id(notice_id: int) -> str:
    """The same on every attempt, so a receiver can drop a repeat."""
    address = parseaddr(settings.SMTP_FROM)[1]
    domain = address.rpartition("@")[2] or "dealgate.invalid"
    return f"<dealgate-notice-{notice_id}@{domain}>"


def _link(item: Outgoing) -> str:
    return f"{settings.SITE_URL}{item.url}" if settings.SITE_URL and item.url else ""


def one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, as one
    space: a mail header cannot hold a line break."""
    return " ".join(text.split())


def content(item: Outgoing) -> str:
    """The body of a mail or chat message: the notice's body, then a
    digest's entries with their links (the first DIGEST_LINES, then how many
    more and the link to Today), made with DEALGATE_SITE_URL as it is at
    sending."""
    lines = [item.body] if item.body else []
    for entry in item.items[:DIGEST_LINES]:
        url = entry.get("url") or ""
        link = f" {settings.SITE_URL}{url}" if url else ""
        lines.append(f"- {one_line(entry.get('title', ''))}{link}")
    more = max(0, len(item.items) - DIGEST_LINES) + item.more_items
    if more > 0:
        today = today_url()
        where = f": {settings.SITE_URL}{today}" if settings.SITE_URL and today else "."
        lines.append(f"... and {more:,} more, all on Today{where}")
    return "\n".join(lines)


class SmtpSender:
    """Sends mails over one SMTP connection, opened on first use. Each mail
    is dated `date`, a real instant (the module docstring says why), or the
    real time it is made at when none is given."""

    def __init__(self, date: dt.datetime | None = None) -> None:
        self.date = date
        self._smtp: smtplib.SMTP | None = None
        self.where = f"SMTP server {settings.SMTP_HOST}:{settings.SMTP_PORT}"

    def send(self, item: Outgoing) -> None:
        if not item.email:
            raise Permanent(f"{item.name} has no email address")
        message = self._message(item)
        try:
            smtp = self._connected()
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._refused(code, reply)
        except smtplib.SMTPDataError as exc:
            self._refused(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPResponseException as exc:
            # A refused sender: every mail would fail; a person must fix the
            # settings, and nothing is dropped meanwhile.
            self._drop()
            text = _text_of(exc.smtp_error)
            raise Unreachable(f"{self.where} refused: {exc.smtp_code} {text}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise Unreachable(f"{self.where} unreachable ({_reason(exc)})") from None

    def _refused(self, code: int, reply: bytes | str) -> None:
        text = _text_of(reply)
        if 500 <= code < 600:
            raise Permanent(f"{self.where} refused: {code} {text}")
        self._drop()
        raise Unreachable(f"{self.where} deferred: {code} {text}")

    def _connected(self) -> smtplib.SMTP:
        """The open connection, else a new one, secured and logged in. What
        a person must fix in the settings is said by name."""
        if self._smtp is not None:
            return self._smtp
        if not settings.SMTP_HOST:
            raise Unreachable(
                "mail is off (DEALGATE_SMTP_HOST is empty); these notices wait "
                "until it is set"
            )
        host, port = settings.SMTP_HOST, settings.SMTP_PORT
        security = "check DEALGATE_SMTP_SECURITY: tls for port 465, starttls for 587"
        smtp: smtplib.SMTP | None = None
        try:
            if settings.SMTP_SECURITY == "tls":
                try:
                    smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS)
                except ssl.SSLError as exc:
                    raise Unreachable(
                        f"{self.where}: TLS failed ({_reason(exc)}); {security}"
                    ) from None
            else:
                smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
                if settings.SMTP_SECURITY == "starttls":
                    try:
                        smtp.starttls()
                    except smtplib.SMTPNotSupportedError:
                        raise Unreachable(
                            f"{self.where} does not offer STARTTLS; {security}, "
                            "none for a server without encryption"
                        ) from None
            if settings.SMTP_USER:
                try:
                    _login(smtp, settings.SMTP_USER, settings.SMTP_PASSWORD)
                except smtplib.SMTPAuthenticationError as exc:
                    text = _text_of(exc.smtp_error)
                    raise Unreachable(
                        f"{self.where} refused the login ({exc.smtp_code} {text}); "
                        "check DEALGATE_SMTP_USER and DEALGATE_SMTP_PASSWORD"
                    ) from None
        except BaseException:
            if smtp is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _message(self, item: Outgoing) -> EmailMessage:
        message = EmailMessage()
        message["From"] = settings.SMTP_FROM
        message["To"] = item.email
        message["Subject"] = one_line(item.title)
        message["Message-ID"] = message_id(item.notice_id)
        message["Date"] = format_datetime(self.date or timesource.wall_now())
        message["X-Dealgate-Notice"] = str(item.notice_id)
        link = _link(item)
        message.set_content(content(item) + (f"\n\n{link}\n" if link else "\n"))
        return message

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class WebhookSender:
    """POSTs Slack-compatible JSON (`{"text": ...}`) to DEALGATE_WEBHOOK_URL.

    The URL carries a secret token: it is never logged, only its host. A
    user and password in it (`https://user:password@host/...`) go as HTTP
    Basic authentication, not in the address urllib connects to.
    """

    def __init__(self) -> None:
        self.url, self.auth = split_credentials(settings.WEBHOOK_URL)
        self.where = f"webhook at {urlsplit(self.url).hostname or 'an unknown host'}"

    def send(self, item: Outgoing) -> None:
        text = f"{one_line(item.title)} (for {item.name})"
        body = content(item)
        if body:
            text += f"\n{body}"
        link = _link(item)
        if link:
            text += f"\n{link}"
        unusable = Unreachable(
            f"{self.where}: DEALGATE_WEBHOOK_URL is not a usable URL"
        )
        if urlsplit(self.url).scheme not in ("http", "https"):
            # urllib would read a file:// URL and call it delivered.
            raise unusable
        try:
            request = urllib.request.Request(
                self.url,
                data=json.dumps(
                    {"text": _slack_escaped(text), "dealgate": _structured(item)}
                ).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"dealgate-notice-{item.notice_id}",
                    "User-Agent": "dealgate",
                    **self.auth,
                },
                method="POST",
            )
        except ValueError:
            # A malformed DEALGATE_WEBHOOK_URL: keep the notice and retry, so a
            # fixed setting delivers it, instead of failing the whole pass. The
            # URL itself is a secret and stays out of the message.
            raise unusable from None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except (ValueError, http.client.InvalidURL):
            # A space or a bad port: the error's text quotes the URL, token
            # and all.
            raise unusable from None
        except urllib.error.HTTPError as exc:
            if exc.code in (408, 429) or exc.code >= 500:
                raise Unreachable(f"{self.where} answered {exc.code}") from None
            raise Permanent(f"{self.where} refused: {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"{self.where} unreachable ({_reason(exc)})") from None

    def close(self) -> None:
        pass


def _structured(item: Outgoing) -> dict[str, Any]:
    """What a program reads of a notice beside its text (which Slack shows
    and ignores this beside): the notice's id, kind, deal, lead and link,
    and its data, such as a follow-up's `inquiry`, whose values the text
    gives in words (docs/clocks.md, "The webhook's payload"). A key of the
    data that names one of the fixed fields is dropped: those say which
    notice this is and what it is about, and nothing a notice carries may
    point a program at another deal or lead."""
    fixed = {
        "notice": item.notice_id,
        "kind": item.kind,
        "deal": item.deal_id,
        "lead": item.lead_id,
        "url": _link(item) or None,
    }
    data = item.data or {}
    return fixed | {key: value for key, value in data.items() if key not in fixed}


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """`url` without a user and password, and the Authorization header
    they make (HTTP Basic, percent-decoded as RFC 3986 writes them); no
    header for a URL without them."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return url, {}
    if user is None and password is None:
        return url, {}
    host = parts.netloc.rpartition("@")[2]
    bare = parts._replace(netloc=host).geturl()
    pair = f"{unquote(user or '')}:{unquote(password or '')}".encode()
    return bare, {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; AUTH PLAIN in UTF-8 (RFC 4616) when the name or password is not
    ASCII, which smtplib's own login cannot send."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _text_of(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _slack_escaped(text: str) -> str:
    """Slack reads <...> as links and mentions (<!channel> pings everyone)
    and & as the start of an entity: a title must not do either."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return str(reason) or type(exc).__name__


def pending_count() -> int:
    """Deliveries still to make, for the command's output."""
    return Delivery.objects.filter(state=PENDING).count()
