"""Notices reach people by email (SMTP) and webhook exactly once, even when
both receivers die mid-run and come back later.

The receivers are real servers on 127.0.0.1 in their own processes
(tests/clocks/receivers.py). Time is injected into the sender: both clocks
start pinned at NOW, and back-off is shown by moving the sender's real clock
(`wall`), never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.clocks import outbox
from dealgate.clocks.models import Delivery, Notice
from dealgate.clocks.notices import notify
from dealgate.clocks.outbox import deliver_all_due, deliver_due, message_id, retry_delay
from tests.conftest import NOW

RECEIVERS = Path(__file__).with_name("receivers.py")
SECRET_TOKEN = "T0-hook-secret-Zq81"
SMTP_PASSWORD = "smtp-pass-Kx72"


@dataclass
class Receiver:
    kind: str
    log: Path
    port: int = 0
    process: subprocess.Popen | None = None

    def start(self, *extra: str) -> Receiver:
        command = [sys.executable, str(RECEIVERS), self.kind, "--log", str(self.log)]
        command += ["--port", str(self.port), *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        # Blocks until the receiver listens; no polling, no sleeping.
        self.port = int(self.process.stdout.readline().split()[1])
        return self

    def wait_dead(self) -> None:
        self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def keys(self) -> Counter[str]:
        if not self.log.exists():
            return Counter()
        lines = self.log.read_text().splitlines()
        return Counter(line.split("\t")[0] for line in lines)


@pytest.fixture(autouse=True)
def _clocks_at_now() -> None:
    # The suite's conftest unpins after each test.
    timesource.set_now(NOW)


@pytest.fixture
def receivers(tmp_path, settings) -> Iterator[tuple[Receiver, Receiver]]:
    smtp = Receiver("smtp", tmp_path / "smtp.log")
    hook = Receiver("http", tmp_path / "hook.log")
    try:
        yield smtp, hook
    finally:
        smtp.kill()
        hook.kill()


def point_settings_at(settings, smtp: Receiver, hook: Receiver) -> None:
    settings.SMTP_HOST = "127.0.0.1"
    settings.SMTP_PORT = smtp.port
    settings.SMTP_SECURITY = "none"
    settings.SMTP_USER = "dealgate"
    settings.SMTP_PASSWORD = SMTP_PASSWORD
    settings.SMTP_FROM = "Dealgate <dealgate@example.com>"
    settings.WEBHOOK_URL = f"http://127.0.0.1:{hook.port}/hooks/{SECRET_TOKEN}"
    settings.SITE_URL = "https://crm.example.com"


def some_notices(people, count: int) -> list[Notice]:
    return [
        notify(
            people[n % len(people)],
            kind=Notice.Kind.BREACH,
            title=f"Over the age limit: deal {n}",
            body="Move it on, or close it.",
            url=f"/deals/{n}/",
            at=NOW,
        )
        for n in range(count)
    ]


@pytest.fixture
def people(alice, bob):
    alice.email, bob.email = "alice@example.com", "bob@example.com"
    alice.save()
    bob.save()
    return [alice, bob]


def test_every_notice_arrives_exactly_once_after_receivers_die_and_return(
    receivers, people, settings, caplog
):
    smtp, hook = receivers
    # Both die abruptly in the middle of the first pass, right after
    # acknowledging their 7th and 12th message.
    smtp.start("--exit-after", "7")
    hook.start("--exit-after", "12")
    point_settings_at(settings, smtp, hook)
    notices = some_notices(people, 20)

    with caplog.at_level(logging.DEBUG):
        first = deliver_all_due(wall=NOW)
        smtp.wait_dead()
        hook.wait_dead()
        assert (first.sent, first.retried) == (7 + 12, 13 + 8)

        # Still down: every due row is tried once, fails, and backs off.
        later = NOW + dt.timedelta(seconds=31)
        assert deliver_all_due(wall=later).retried == 21

        smtp.start()  # back, on the same ports
        hook.start()
        # The next attempts are a minute after the second failure.
        assert deliver_all_due(wall=later + dt.timedelta(seconds=59)).attempted == 0
        final = deliver_all_due(wall=later + dt.timedelta(seconds=60))

    assert final.sent == 21
    expected_ids = Counter(message_id(n.pk) for n in notices)
    assert smtp.keys() == expected_ids
    assert hook.keys() == Counter(f"dealgate-notice-{n.pk}" for n in notices)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"sent"}
    assert Delivery.objects.filter(attempts=3).count() == 21
    # The sender logs in once per connection (before the kill, after the
    # return), and no secret ever reaches the log.
    assert smtp.log.with_suffix(".log.auth").read_text().split() == ["dealgate"] * 2
    assert SECRET_TOKEN not in caplog.text
    assert SMTP_PASSWORD not in caplog.text
    assert "webhook at 127.0.0.1" in caplog.text


def test_a_mail_carries_subject_link_and_a_stable_message_id(
    receivers, people, settings
):
    smtp, hook = receivers
    smtp.start()
    hook.start()
    point_settings_at(settings, smtp, hook)
    (notice,) = some_notices(people[:1], 1)

    deliver_due(now=NOW)

    assert message_id(notice.pk) == f"<dealgate-notice-{notice.pk}@example.com>"
    (line,) = smtp.log.read_text().splitlines()
    assert line == f"{message_id(notice.pk)}\talice@example.com"
    (hooked,) = hook.log.read_text().splitlines()
    assert hooked.endswith(
        "Over the age limit: deal 0 (for Alice Rep) | Move it on, or close it. | "
        "https://crm.example.com/deals/0/"
    )


def test_a_recipient_refused_for_good_fails_that_notice_only(
    receivers, people, settings, caplog
):
    smtp, hook = receivers
    smtp.start("--refuse", "bob@example.com")
    hook.start()
    point_settings_at(settings, smtp, hook)
    settings.WEBHOOK_URL = ""
    some_notices(people, 4)

    with caplog.at_level(logging.ERROR, logger="dealgate.notices"):
        result = deliver_due(now=NOW)

    assert (result.sent, result.failed) == (2, 2)
    failed = Delivery.objects.filter(state="failed")
    assert {d.notice.user.username for d in failed} == {"bob"}
    assert "550" in failed[0].last_error
    assert "refused for good" in caplog.text


@pytest.mark.parametrize(("status", "state"), [(503, "pending"), (404, "failed")])
def test_a_webhook_error_is_retried_unless_it_names_this_request(
    receivers, people, settings, status, state
):
    smtp, hook = receivers
    hook.start("--status", str(status))
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    some_notices(people, 1)

    deliver_due(now=NOW)

    (delivery,) = Delivery.objects.all()
    assert delivery.state == state
    assert str(status) in delivery.last_error
    assert SECRET_TOKEN not in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:80/hooks/{SECRET_TOKEN}\tx",
        f"http://127.0.0.1:8o/hooks/{SECRET_TOKEN}",
        f"file:///tmp/{SECRET_TOKEN}",
    ],
)
def test_an_unusable_webhook_url_is_kept_waiting_and_never_quoted(
    people, settings, caplog, url
):
    settings.SMTP_HOST = ""
    settings.WEBHOOK_URL = url
    some_notices(people, 1)

    result = deliver_due(now=NOW)

    (delivery,) = Delivery.objects.all()
    assert (result.sent, delivery.state) == (0, "pending")
    assert "DEALGATE_WEBHOOK_URL is not a usable URL" in delivery.last_error
    assert SECRET_TOKEN not in delivery.last_error
    assert SECRET_TOKEN not in caplog.text


def test_a_password_that_is_not_ascii_logs_in(receivers, people, settings):
    smtp, hook = receivers
    smtp.start("--password", "Grüße-aus-Köln")
    point_settings_at(settings, smtp, hook)
    settings.WEBHOOK_URL = ""
    settings.SMTP_PASSWORD = "Grüße-aus-Köln"
    some_notices(people, 1)

    assert deliver_due(now=NOW).sent == 1
    assert sum(smtp.keys().values()) == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"SMTP_PASSWORD": "wrong-pass"},
            "refused the login (535 5.7.8 authentication credentials invalid); "
            "check DEALGATE_SMTP_USER and DEALGATE_SMTP_PASSWORD",
        ),
        ({"SMTP_SECURITY": "starttls"}, "does not offer STARTTLS; check"),
        ({"SMTP_HOST": ""}, "mail is off (DEALGATE_SMTP_HOST is empty)"),
    ],
)
def test_mail_settings_a_person_must_fix_are_named_and_mails_wait(
    receivers, people, settings, caplog, change, says
):
    smtp, hook = receivers
    smtp.start("--password", SMTP_PASSWORD)
    point_settings_at(settings, smtp, hook)
    settings.WEBHOOK_URL = ""
    some_notices(people, 2)
    for name, value in change.items():
        setattr(settings, name, value)

    result = deliver_due(now=NOW)

    assert (result.sent, result.retried) == (0, 2)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"pending"}
    assert says in Delivery.objects.first().last_error
    assert says in caplog.text
    assert "wrong-pass" not in caplog.text + Delivery.objects.first().last_error


def test_a_sender_that_crashed_after_leasing_is_replaced_after_the_lease(
    receivers, people, settings
):
    smtp, hook = receivers
    smtp.start()
    hook.start()
    point_settings_at(settings, smtp, hook)
    some_notices(people, 3)
    leased = outbox._lease(NOW, 100)  # ... and the process died here
    assert len(leased) == 6

    assert deliver_due(wall=NOW + outbox.LEASE / 2).attempted == 0
    assert deliver_due(wall=NOW + outbox.LEASE).sent == 6
    assert sum(smtp.keys().values()) == 3


def test_back_off_doubles_from_half_a_minute_to_at_most_an_hour():
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 8, 20)]

    assert delays == [30, 60, 120, 240, 3600, 3600]


def test_no_channel_switched_on_queues_no_deliveries(people, settings):
    settings.SMTP_HOST = settings.WEBHOOK_URL = ""

    some_notices(people, 2)

    assert Delivery.objects.count() == 0
    assert deliver_due(now=NOW).attempted == 0


def test_a_digest_lists_its_entries_with_links_made_when_it_is_sent(
    receivers, people, settings, monkeypatch
):
    smtp, hook = receivers
    hook.start()
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    monkeypatch.setattr(outbox, "DIGEST_LINES", 2)
    notice = notify(people[0], kind=Notice.Kind.BREACH, title="3 deals ran out", at=NOW)
    notice.body = "Each has run past its window or limit:"
    notice.items = [
        {"clock": n, "title": f"Over the age limit: D{n}", "url": f"/deals/{n}/"}
        for n in range(3)
    ]
    notice.save()
    settings.SITE_URL = "https://sales.example.org"  # changed after the sweep

    deliver_due(now=NOW)

    (hooked,) = hook.log.read_text().splitlines()
    assert hooked.split("\t")[1].split(" | ") == [
        "3 deals ran out (for Alice Rep)",
        "Each has run past its window or limit:",
        "- Over the age limit: D0 https://sales.example.org/deals/0/",
        "- Over the age limit: D1 https://sales.example.org/deals/1/",
        "... and 1 more, all on Today: https://sales.example.org/today/",
    ]


def test_a_digest_of_thousands_mails_its_first_fifty_and_the_count_of_the_rest(
    people, settings
):
    settings.SMTP_FROM = "Dealgate <dealgate@example.com>"
    settings.SITE_URL = ""
    notice = notify(people[0], kind=Notice.Kind.BREACH, title="Many ran out", at=NOW)
    notice.items = [
        {"clock": n, "title": f"Over the age limit: D{n}", "url": f"/deals/{n}/"}
        for n in range(30_252)
    ]

    message = outbox.SmtpSender()._message(outbox._outgoing(_row(notice)))
    lines = message.get_content().splitlines()

    assert outbox.DIGEST_LINES == 50
    listed = [line for line in lines if line.startswith("- ")]
    assert listed[0] == "- Over the age limit: D0 /deals/0/"
    assert listed[-1] == "- Over the age limit: D49 /deals/49/"
    assert len(listed) == 50
    assert "... and 30,202 more, all on Today." in lines
    assert len(message.as_bytes()) < 10_000


def test_a_digest_that_counts_its_rest_mails_what_it_keeps_and_the_count(
    people, settings
):
    settings.SMTP_HOST, settings.WEBHOOK_URL = "127.0.0.1", ""
    settings.SMTP_FROM = "Dealgate <dealgate@example.com>"
    settings.SITE_URL = ""
    notice = notify(people[0], kind=Notice.Kind.BREACH, title="Many ran out", at=NOW)
    notice.items = [
        {"clock": n, "title": f"Over the age limit: D{n}", "url": f"/deals/{n}/"}
        for n in range(50)
    ]
    notice.more_items = 30_202
    notice.save()

    (leased,) = outbox._lease(NOW, 10)
    lines = outbox.SmtpSender()._message(leased).get_content().splitlines()

    assert leased.more_items == 30_202
    assert len([line for line in lines if line.startswith("- ")]) == 50
    assert "... and 30,202 more, all on Today." in lines


def test_a_title_with_a_line_break_is_sent_on_one_line(people, settings):
    settings.SMTP_FROM = "Dealgate <dealgate@example.com>"
    notice = notify(people[0], kind="info", title="Lone deal\nBcc: x@evil.test", at=NOW)
    item = outbox._outgoing(_row(notice))

    message = outbox.SmtpSender()._message(item)

    assert message["Subject"] == "Lone deal Bcc: x@evil.test"
    assert message["Bcc"] is None


def _row(notice: Notice) -> dict:
    user = notice.user
    return {
        "id": 1,
        "channel": "email",
        "attempts": 1,
        "notice_id": notice.pk,
        "notice__title": notice.title,
        "notice__body": notice.body,
        "notice__url": notice.url,
        "notice__items": notice.items,
        "notice__more_items": notice.more_items,
        "notice__kind": notice.kind,
        "notice__deal_id": notice.deal_id,
        "notice__lead_id": notice.lead_id,
        "notice__data": notice.data,
        "notice__user__email": user.email,
        "notice__user__username": user.username,
        "notice__user__first_name": user.first_name,
        "notice__user__last_name": user.last_name,
    }


def test_a_message_that_cannot_be_made_is_kept_and_the_rest_are_sent(
    receivers, people, settings, monkeypatch, caplog
):
    smtp, hook = receivers
    smtp.start()
    point_settings_at(settings, smtp, hook)
    settings.WEBHOOK_URL = ""
    bad, *good = some_notices(people, 3)
    made = outbox.SmtpSender._message

    def fails_for_one(self, item):
        if item.notice_id == bad.pk:
            raise ValueError("a header this code cannot write")
        return made(self, item)

    monkeypatch.setattr(outbox.SmtpSender, "_message", fails_for_one)
    with caplog.at_level(logging.ERROR, logger="dealgate.notices"):
        result = deliver_due(now=NOW)

    assert (result.sent, result.retried, result.failed) == (2, 1, 0)
    kept = Delivery.objects.get(notice=bad)
    assert kept.state == "pending" and "ValueError" in kept.last_error
    assert kept.next_attempt_at == NOW + retry_delay(1)
    assert f"notice {bad.pk} by email could not be sent" in caplog.text


def test_chat_text_cannot_mention_or_link_by_a_title(receivers, people, settings):
    smtp, hook = receivers
    hook.start()
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    notify(people[0], kind="info", title="<!channel> Smith & <b>Sons</b>", at=NOW)

    deliver_due(now=NOW)

    (hooked,) = hook.log.read_text().splitlines()
    assert "&lt;!channel&gt; Smith &amp; &lt;b&gt;Sons&lt;/b&gt;" in hooked
