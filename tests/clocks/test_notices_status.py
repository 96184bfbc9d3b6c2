"""`dealgate notices status` and `send` say what happened to the notices: how
many were written, what went out on which channel, and why the rest did not."""

from __future__ import annotations

import pytest

from dealgate.cli import main
from dealgate.clocks.models import Notice

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def breached(pipeline, alice, clock, capsys):
    """Two deals past inquiry's limit, swept: one digest notice for alice."""
    for title in ("Acme rollout", "Beta rollout"):
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=title)
    main(["sweep", "--no-send"])
    assert Notice.objects.count() == 1
    capsys.readouterr()


def status(capsys) -> list[str]:
    assert main(["notices", "status"]) == 0
    return capsys.readouterr().out.splitlines()


def test_notices_written_with_no_transport_say_they_were_not_sent_and_why(
    breached, settings, capsys
):
    settings.SMTP_HOST = settings.WEBHOOK_URL = ""

    first, second = status(capsys)

    assert first == "1 notice written (1 unread), each shown to its person on /notices/"
    assert second.startswith(
        "1 notice not sent: no mail or webhook is configured. Set "
        "DEALGATE_SMTP_HOST (mail) or DEALGATE_WEBHOOK_URL (a webhook)"
    )


def test_notices_written_before_a_transport_was_configured_say_so(
    breached, settings, capsys
):
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook"

    lines = status(capsys)

    assert lines[-1].endswith(
        "not sent: no channel was on when they were written (or, for mail, "
        "their person has no email address); a notice goes out only on the "
        "channels on when it is written, and stays on /notices/ either way."
    )


def test_with_no_notice_at_all_status_says_none_was_written(db, capsys):
    assert status(capsys) == ["no notices written yet"]


def test_send_with_no_transport_says_new_notices_are_not_sent(db, settings, capsys):
    settings.SMTP_HOST = settings.WEBHOOK_URL = ""

    assert main(["notices", "send"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "0 notices sent in 0 deliveries; 0 deliveries to retry, 0 refused for "
        "good; 0 deliveries still queued"
    )
    assert out[1].startswith(
        "New notices are not sent: no mail or webhook is configured."
    )
