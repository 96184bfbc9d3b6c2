"""What a sweep logs: a line at INFO when it acted on clocks, at DEBUG when
nothing was due (`serve` sweeps every 30 s, so an idle sweep is no news);
at INFO what it did to each clock, naming its deal or lead and the people
told; and warnings that name the deals and leads a person must look at."""

from __future__ import annotations

import logging

import pytest

from dealgate.cli import main
from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Deal

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db


def sweep_lines(caplog) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "dealgate.clocks" and "sweep at" in record.getMessage()
    ]


def test_a_sweep_that_found_nothing_due_logs_at_debug(pipeline, clock, caplog):
    with caplog.at_level(logging.DEBUG, logger="dealgate.clocks"):
        sweep()

    [(level, line)] = sweep_lines(caplog)
    assert level == logging.DEBUG
    assert "0 due clocks" in line


def test_a_sweep_that_acted_logs_at_info(pipeline, alice, clock, caplog):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    with caplog.at_level(logging.DEBUG, logger="dealgate.clocks"):
        sweep()

    [(level, line)] = sweep_lines(caplog)
    assert level == logging.INFO
    assert "1 due clock: 1 breached" in line


def clock_lines(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "dealgate.clocks"
        and record.levelno == logging.INFO
        and record.getMessage().startswith("clock ")
    ]


def test_each_breach_is_logged_at_info_with_its_deal_and_whom_it_told(
    pipeline, alice, clock, caplog
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    [line] = clock_lines(caplog)
    assert line.startswith(f"clock {age.pk} on deal {deal.pk} breached: alice told; ")
    # Two business days after Tuesday 17:00 end at Thursday's closing: it
    # escalates from Friday's opening on.
    assert "escalates at 2026-06-12T07:00:00+00:00" in line


def test_each_escalation_is_logged_with_the_person_and_the_manager_told(
    pipeline, alice, max_manager, clock, caplog
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert clock_lines(caplog)[-1] == (
        f"clock {age.pk} on deal {deal.pk} escalated (alice): the manager max told"
    )


def test_a_clock_found_answered_is_logged_as_met(pipeline, alice, clock, caplog):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    deal.status, deal.closed_at = Deal.Status.LOST, berlin(9, 9)
    Deal.objects.filter(pk=deal.pk).update(status=deal.status, closed_at=deal.closed_at)
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert clock_lines(caplog) == [
        f"clock {age.pk} on deal {deal.pk} cancelled: deal lost"
    ]


def test_an_escalation_nobody_can_get_is_warned_naming_its_deal(
    pipeline, alice, clock, caplog
):
    # alice's team has no manager, and there is no admin.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert clock_lines(caplog)[-1] == (
        f"clock {age.pk} on deal {deal.pk} not escalated: nobody to tell (alice; "
        "no manager, and no other active admin)"
    )
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.endswith(
        "1 clocks not escalated: nobody to tell (no manager and no other active "
        f"admin): deal {deal.pk} (clock {age.pk})"
    )


def test_an_escalation_to_the_admins_is_logged_naming_them_and_why(
    pipeline, alice, olivia, clock, caplog
):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert clock_lines(caplog)[-1] == (
        f"clock {age.pk} on deal {deal.pk} escalated (alice): admins olivia told "
        "(no manager)"
    )


def test_a_warning_names_at_most_ten_deals_and_counts_the_rest(pipeline, clock, caplog):
    deals = [
        place_deal(pipeline, "inquiry", owner=None, entered=berlin(8, 9), title=f"D{n}")
        for n in range(12)
    ]

    with caplog.at_level(logging.WARNING, logger="dealgate.clocks"):
        sweep()

    [warning] = [r.getMessage() for r in caplog.records]
    assert "12 breached clocks had nobody to notify (no owner): deal " in warning
    assert f"deal {deals[9].pk} (clock " in warning
    assert f"deal {deals[10].pk} " not in warning
    assert warning.endswith(" and 2 more")


def test_sweep_verbose_logs_each_clock_and_never_a_secret(
    pipeline, alice, clock, settings, capsys
):
    settings.WEBHOOK_URL = "http://127.0.0.1:8195/hooks/T0-secret-token"
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    assert main(["sweep", "-v", "--no-send"]) == 0

    err = capsys.readouterr().err
    assert "INFO dealgate.clocks: clock " in err
    assert f"on deal {deal.pk} breached: alice told" in err
    assert "T0-secret-token" not in err


def test_an_idle_sweep_logs_no_clock_at_info(pipeline, alice, clock, caplog):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(10, 9))

    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    assert clock_lines(caplog) == []
