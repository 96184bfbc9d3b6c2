"""The sender counts leases and retries in real time, so a fixed business clock
(a demo's date, --as-of, DEALGATE_AS_OF) cannot hold a notice back for good;
what the record says stays in the business clock.

Both clocks are injected: the business one by DEALGATE_AS_OF (settings.AS_OF)
or a notice's `at`, the real one as the sender's `wall` and, where a notice is
queued, by pinning it. Receivers are real servers on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections import Counter
from email.utils import format_datetime

import pytest

from dealgate import timesource
from dealgate.clocks import outbox
from dealgate.clocks.models import Delivery, Notice
from dealgate.clocks.notices import notify
from dealgate.clocks.outbox import deliver_due, message_id
from tests.clocks.test_outbox import Receiver, point_settings_at
from tests.conftest import NOW

AS_OF = "2017-12-31"
BUSINESS = timesource.parse_as_of(AS_OF)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, for receivers the test starts later: the
    settings name them while the receivers are still down. All are held at
    once, so no two are the same."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@pytest.fixture
def receivers(tmp_path):
    smtp_port, hook_port = free_ports(2)
    smtp = Receiver("smtp", tmp_path / "smtp.log", port=smtp_port)
    hook = Receiver("http", tmp_path / "hook.log", port=hook_port)
    try:
        yield smtp, hook
    finally:
        smtp.kill()
        hook.kill()


@pytest.fixture
def alice_with_mail(alice):
    alice.email = "alice@example.com"
    alice.save()
    return alice


def queued_at(wall: dt.datetime, person, *, at: dt.datetime = BUSINESS) -> Notice:
    """A notice of business time `at`, its deliveries queued at real `wall`."""
    with timesource.frozen_at(wall):
        return notify(person, kind=Notice.Kind.BREACH, title="Over the limit", at=at)


def test_a_delivery_waiting_for_a_retry_comes_due_in_real_time_under_a_fixed_date(
    receivers, alice_with_mail, settings
):
    smtp, hook = receivers  # the webhook is down at first
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    settings.AS_OF = AS_OF
    notice = queued_at(NOW, alice_with_mail)

    assert deliver_due(wall=NOW).retried == 1
    hook.start()
    assert deliver_due(wall=NOW + dt.timedelta(seconds=29)).attempted == 0
    assert deliver_due(wall=NOW + dt.timedelta(seconds=30)).sent == 1

    assert timesource.now() == BUSINESS  # the business clock never moved
    assert hook.keys() == Counter({f"dealgate-notice-{notice.pk}": 1})
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("sent", 2)


def test_a_sender_that_crashed_under_a_fixed_date_is_replaced_after_a_real_lease(
    receivers, alice_with_mail, settings
):
    smtp, hook = receivers
    hook.start()
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    settings.AS_OF = AS_OF
    queued_at(NOW, alice_with_mail)
    assert len(outbox._lease(NOW, 100)) == 1  # ... and that sender died here

    assert deliver_due(wall=NOW + outbox.LEASE / 2).attempted == 0
    assert deliver_due(wall=NOW + outbox.LEASE).sent == 1
    assert sum(hook.keys().values()) == 1


def test_a_retried_mail_keeps_its_id_and_is_dated_in_real_time(
    receivers, alice_with_mail, settings
):
    smtp, hook = receivers  # the mail server is down at first
    point_settings_at(settings, smtp, hook)
    settings.WEBHOOK_URL = ""
    settings.AS_OF = AS_OF
    notice = queued_at(NOW, alice_with_mail)
    deliver_due(wall=NOW)
    smtp.start()

    retried_at = NOW + outbox.retry_delay(1)
    assert deliver_due(wall=retried_at).sent == 1

    assert smtp.keys() == Counter({message_id(notice.pk): 1})
    (date,) = smtp.log.with_suffix(".log.date").read_text().splitlines()
    assert date == format_datetime(retried_at)
    assert Delivery.objects.get().sent_at == BUSINESS


def test_a_first_attempt_is_due_at_once_when_the_business_clock_runs_ahead(
    receivers, alice_with_mail, settings
):
    smtp, hook = receivers
    hook.start()
    point_settings_at(settings, smtp, hook)
    settings.SMTP_HOST = ""
    ahead = "2030-01-01"
    settings.AS_OF = ahead
    queued_at(NOW, alice_with_mail, at=timesource.parse_as_of(ahead))

    assert deliver_due(wall=NOW).sent == 1
    assert Delivery.objects.get().sent_at == timesource.parse_as_of(ahead)
