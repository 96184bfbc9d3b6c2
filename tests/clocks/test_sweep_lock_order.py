"""The sweep never waits for a deal or lead while holding the clocks it
claimed, so it cannot deadlock with a writer that holds the deal or lead and
then writes its clock (every ordinary change: an answer, a move), nor with
another sweeper.

Each test takes the order in which a deadlock would form: the writer locks
the row first, the sweep claims the clock and reaches the row, then the
writer writes the clock. Before the sweep locked its deals and leads with
SKIP LOCKED, each of these ended in PostgreSQL's deadlock error. Two real
sessions on PostgreSQL, each step released by the other's lock wait or end,
with no sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from dealgate.clocks import services as clocks
from dealgate.clocks import sweep as sweeping
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import SweepResult, sweep
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.leads import assign
from dealgate.leads.models import Lead
from dealgate.leads.services import capture_lead, record_response
from dealgate.pipelines.models import Pipeline
from tests.leads.test_routing_leavers import Worker
from tests.locking import OtherSession, until

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db(transaction=True)

ROUND_ROBIN = [{"name": "team", "to": ["user:alice", "user:bob"], "how": "round-robin"}]
LEAD_REASSIGN = {"handoffs": {"lead->inquiry": {"on_breach": ["notify", "reassign"]}}}


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises "
            "writers, and its test database is private to one thread"
        )


@pytest.fixture
def alices_lead(windows, alice, bob, max_manager, clock) -> Lead:
    """alice's new lead (round robin, her turn), captured at 10:00 on
    Wednesday 10 June: its 15-minute window runs out at 10:15."""
    assign.forget_cached()
    windows.settings = {"routing": ROUND_ROBIN, "breach": LEAD_REASSIGN}
    windows.save()
    clock.to(berlin(10, 10))
    data = {"name": "Petra", "email": "petra@firm.example", "company": "Firm AG"}
    lead = capture_lead(data, source="api", pipeline=windows).lead
    assert lead.owner == alice
    return lead


def lock_row(model: type, pk: int) -> Callable[[], None]:
    """A writer's first step: the deal's or lead's row, as every change
    locks it before writing its clocks."""

    def lock() -> None:
        list(model.objects.select_for_update().filter(pk=pk).values_list("pk"))

    return lock


def race(
    first_step: Callable[[], None], second_step: Callable[[], None], at: dt.datetime
) -> tuple[str, str, list[SweepResult]]:
    """Run `first_step` in a transaction, then a sweep at `at` until it has
    finished or waits for a lock, then `second_step` in the first
    transaction. Returns both outcomes and the sweep's result."""
    started, go = threading.Event(), threading.Event()
    swept: list[SweepResult] = []

    def write() -> None:
        with transaction.atomic():
            first_step()
            started.set()
            assert go.wait(20)
            second_step()

    writer = Worker(write)
    sweeper = Worker(lambda: swept.append(sweep(now=at)))
    with OtherSession.opened() as watcher:
        writer.start()
        assert started.wait(20)
        sweeper.start()
        until(lambda: not sweeper.is_alive() or watcher.waiting_for_locks() >= 1)
        go.set()
        writer.join()
        sweeper.join()
    return writer.outcome, sweeper.outcome, swept


def test_a_lead_breached_while_its_owner_answers_is_left_to_the_next_sweep(
    alices_lead, alice, clock, caplog
):
    caplog.set_level(logging.INFO, "dealgate.clocks")

    # The breach's notice refers to the lead: writing it would wait for the
    # owner's lock while the sweep holds the clock the answer writes.
    def answer() -> None:
        record_response(alices_lead.pk, kind="call", by=alice)

    at = clock.to(berlin(10, 10, 16))
    writer, sweeper, swept = race(lock_row(Lead, alices_lead.pk), answer, at)

    assert (writer, sweeper) == ("written", "written")
    (result,) = swept
    assert (result.due, result.left) == (0, 1)
    assert "1 left to the next sweep" in result.summary()
    # Answered a minute late: missed and put right by the answer, nothing sent.
    (window,) = Clock.objects.filter(lead=alices_lead)
    assert (window.state, window.resolved_at) == (Clock.State.BREACHED, at)
    said = f"clock {window.pk} on lead {alices_lead.pk} left to the next sweep"
    assert f"{said}: another change holds it" in caplog.text
    assert not Notice.objects.exists()
    # The next sweep finds nothing left to do.
    assert sweep(now=at).due == 0


def test_a_lead_reassigned_while_its_owner_answers_is_left_to_the_next_sweep(
    alices_lead, alice, clock
):
    sweep(now=berlin(10, 10, 16))  # breached, alice told; reassigned at 10:31
    (window,) = Clock.objects.filter(lead=alices_lead)
    assert window.state == Clock.State.BREACHED

    def answer() -> None:
        record_response(alices_lead.pk, kind="call", by=alice)

    at = clock.to(berlin(10, 10, 31))
    writer, sweeper, swept = race(lock_row(Lead, alices_lead.pk), answer, at)

    assert (writer, sweeper) == ("written", "written")
    (result,) = swept
    assert (result.left, result.reassigned, result.escalated) == (1, 0, 0)
    lead = Lead.objects.get(pk=alices_lead.pk)
    assert (lead.owner, lead.status) == (alice, Lead.Status.ANSWERED)
    # The next sweep sees the answer: put right, not reassigned.
    assert sweep(now=at).reassigned == 0
    window.refresh_from_db()
    assert window.resolved_at is not None and window.escalated_at is None
    assert Lead.objects.get(pk=alices_lead.pk).owner == alice


def test_a_deal_breached_while_it_is_moved_is_left_to_the_next_sweep(
    pipeline, alice, max_manager, clock
):
    # "inquiry" has a 2-day limit: since Monday 9:00, due Tuesday 17:00.
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    def move() -> None:
        move_deal(deal.pk, "lost", by=alice, expected_version=None, loss_reason="price")

    writer, sweeper, swept = race(lock_row(Deal, deal.pk), move, clock.now)

    assert (writer, sweeper) == ("written", "written")
    (result,) = swept
    assert (result.due, result.left) == (0, 1)
    (limit,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    assert not limit.is_open
    assert not Notice.objects.exists()


def test_a_deal_reassigned_while_it_is_moved_is_left_to_the_next_sweep(
    pipeline, alice, bob, max_manager, clock
):
    pipeline.settings = {
        **pipeline.settings,
        "breach": {"on_breach": ["reassign"], "escalate_after": "1h"},
    }
    pipeline.save()
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    # Due Tuesday 17:00, late from Wednesday's opening: breached then; its
    # second window ends at 10:00.
    sweep(now=berlin(10, 9, 1))
    (limit,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    assert limit.state == Clock.State.BREACHED

    def move() -> None:
        move_deal(deal.pk, "discovery", by=alice, expected_version=None)

    writer, sweeper, swept = race(lock_row(Deal, deal.pk), move, clock.now)

    assert (writer, sweeper) == ("written", "written")
    (result,) = swept
    assert (result.left, result.reassigned) == (1, 0)
    deal.refresh_from_db()
    assert (deal.stage.key, deal.responsible) == ("discovery", alice)
    limit.refresh_from_db()
    assert limit.resolved_at is not None and limit.escalated_at is None


def test_two_sweepers_reassigning_one_deal_each_finish(
    pipeline, alice, bob, max_manager, clock
):
    # Two clocks of one deal past their second windows, claimed by two
    # sweepers: the one that gets the deal also hands over the other's
    # clock, which it waits for, so the other must not wait for the deal.
    pipeline.settings = {
        **pipeline.settings,
        "breach": {"on_breach": ["reassign"], "escalate_after": "1h"},
    }
    pipeline.save()
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    sweep(now=berlin(10, 9, 1))  # due Tuesday 17:00, late from Wednesday 09:00
    (limit,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    # A second obligation of alice's on the deal, breached later.
    other = Clock.objects.get(pk=limit.pk)
    other.pk, other.key = None, f"{limit.key}:second"
    other.escalate_at = limit.escalate_at + dt.timedelta(minutes=1)
    other.save()
    started, go = threading.Event(), threading.Event()
    left: list[SweepResult] = []

    def first_sweeper() -> None:
        with transaction.atomic():
            rows = sweeping._claim_escalations(clock.now, 1)
            assert [row["id"] for row in rows] == [limit.pk]
            started.set()
            assert go.wait(20)
            result = SweepResult()
            sweeping._Batch(rows, clock.now, escalating=True).run(result)
            left.append(result)

    claimed_first = Worker(first_sweeper)
    second = Worker(lambda: sweep(now=clock.now))
    with OtherSession.opened() as watcher:
        claimed_first.start()
        assert started.wait(20)
        second.start()
        until(lambda: not second.is_alive() or watcher.waiting_for_locks() >= 1)
        go.set()
        claimed_first.join()
        second.join()

    assert (claimed_first.outcome, second.outcome) == ("written", "written")
    (result,) = left
    assert (result.left, result.reassigned) == (1, 0)
    deal.refresh_from_db()
    assert deal.version > 1
    # The second sweeper took up the left clock once its holder let go.
    assert sweep(now=clock.now).due == 0


def test_a_follow_up_written_while_the_pipeline_changes_is_left_to_the_next_sweep(
    pipeline, alice, max_manager, clock
):
    # A follow-up task's next-step clock refers to the pipeline, whose
    # change (a file applied) locks it and then re-dates its clocks.
    pipeline.settings = {**pipeline.settings, "breach": {"on_breach": ["task"]}}
    pipeline.save()
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    (limit,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)

    def longer_days() -> None:
        pipeline.calendar = {
            **pipeline.calendar,
            "hours": {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
        pipeline.save()
        clocks.calendar_changed(pipeline, clock.now)

    writer, sweeper, swept = race(
        lock_row(Pipeline, pipeline.pk), longer_days, clock.now
    )

    assert (writer, sweeper) == ("written", "written")
    (result,) = swept
    assert (result.left, result.tasks) == (1, 0)
    limit.refresh_from_db()
    assert limit.due_at != berlin(9, 17)
    # The next sweep judges it by the new calendar.
    assert sweep(now=clock.now).tasks == 1
