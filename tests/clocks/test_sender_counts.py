"""The sender counts notices and their deliveries apart: one notice goes out
once per channel, so six notices by mail and webhook are twelve deliveries,
and the log and the commands say both, with the deliveries per channel."""

from __future__ import annotations

import logging

import pytest

from dealgate.cli import main
from dealgate.clocks import outbox
from dealgate.clocks.models import Notice
from dealgate.clocks.notices import notify
from dealgate.clocks.outbox import deliver_all_due
from tests.conftest import NOW

from .conftest import berlin, place_deal


class Accepting:
    """A sender that takes every message, without a network."""

    def __init__(self, date: object = None) -> None:
        pass

    def send(self, item: outbox.Outgoing) -> None:
        pass

    def close(self) -> None:
        pass


class DeadHook(Accepting):
    def send(self, item: outbox.Outgoing) -> None:
        raise outbox.Unreachable("webhook at 127.0.0.1 unreachable (refused)")


@pytest.fixture
def both_channels(settings, monkeypatch, alice, bob):
    settings.SMTP_HOST = "127.0.0.1"
    settings.WEBHOOK_URL = "http://127.0.0.1:8195/hook"
    alice.email, bob.email = "alice@example.com", "bob@example.com"
    alice.save()
    bob.save()
    monkeypatch.setattr(outbox, "SmtpSender", Accepting)
    monkeypatch.setattr(outbox, "WebhookSender", Accepting)
    return [alice, bob]


def six_notices(people) -> None:
    for n in range(6):
        notify(
            people[n % 2], kind=Notice.Kind.BREACH, title=f"deal {n}", url="", at=NOW
        )


def test_six_notices_by_mail_and_webhook_are_six_sent_in_twelve_deliveries(
    both_channels, caplog
):
    six_notices(both_channels)

    with caplog.at_level(logging.INFO, logger="dealgate.notices"):
        result = deliver_all_due(now=NOW)

    assert (result.sent, len(result.notices_sent)) == (12, 6)
    assert result.by_channel == {
        "email": {"sent": 6, "retried": 0, "failed": 0},
        "webhook": {"sent": 6, "retried": 0, "failed": 0},
    }
    (line,) = [r.getMessage() for r in caplog.records if "sender:" in r.getMessage()]
    assert line.startswith(
        "sender: 6 notices sent in 12 deliveries (6 by email, 6 by webhook); "
        "0 deliveries to retry, 0 refused for good in "
    )


def test_notices_send_prints_notices_and_deliveries_by_channel(both_channels, capsys):
    six_notices(both_channels)

    assert main(["notices", "send"]) == 0

    assert capsys.readouterr().out.splitlines()[0] == (
        "6 notices sent in 12 deliveries (6 by email, 6 by webhook); "
        "0 deliveries to retry, 0 refused for good; 0 deliveries still queued"
    )


def test_a_notice_whose_webhook_is_down_is_sent_by_mail_and_its_post_retried(
    both_channels, monkeypatch, capsys
):
    monkeypatch.setattr(outbox, "WebhookSender", DeadHook)
    six_notices(both_channels)

    assert main(["notices", "send"]) == 0

    assert capsys.readouterr().out.splitlines()[0] == (
        "6 notices sent in 6 deliveries (6 by email); 6 deliveries to retry "
        "(6 by webhook), 0 refused for good; 6 deliveries still queued"
    )


def test_the_sweep_command_says_notices_and_deliveries_apart(
    pipeline, both_channels, clock, capsys
):
    alice, bob = both_channels
    for n, owner in enumerate([alice, alice, bob]):
        place_deal(
            pipeline, "inquiry", owner=owner, entered=berlin(8, 9), title=f"Deal {n}"
        )

    assert main(["sweep"]) == 0

    out = capsys.readouterr().out
    # alice's two breaches are one digest: two notices, four deliveries.
    assert Notice.objects.count() == 2
    assert (
        "sender: 2 notices sent in 4 deliveries (2 by email, 2 by webhook); "
        "0 deliveries to retry, 0 refused for good"
    ) in out


def test_a_delivery_summary_groups_the_thousands_of_every_count():
    result = outbox.DeliveryResult(
        sent=2500,
        retried=1200,
        failed=1300,
        by_channel={
            "email": {"sent": 1500, "retried": 1200, "failed": 0},
            "webhook": {"sent": 1000, "retried": 0, "failed": 1300},
        },
    )

    summary = result.summary()

    assert "(1,500 by email, 1,000 by webhook)" in summary
    assert "1,200 deliveries to retry (1,200 by email)" in summary
    assert "1,300 refused for good (1,300 by webhook)" in summary
