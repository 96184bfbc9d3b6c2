"""A move racing a redesign that removes its target stage: no open deal is
ever left in a retired stage (PostgreSQL: SQLite serialises its writers)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, connections

from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.services import apply_pipeline
from tests.test_pipeline_apply import deal_in, spec_of, without_old_stage

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 10  # seconds a thread may take before the test gives up on it


@pytest.fixture
def applied(people):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the in-memory SQLite test database is private")
    apply_pipeline(spec_of())
    return Pipeline.objects.get(key="sales")


@pytest.fixture
def people(alice, max_manager):
    return alice


def _other(*, autocommit: bool = False):
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=autocommit)


def _in_thread(work):
    """Run `work` in a thread with its own connection; its outcome."""
    outcome: list[object] = []

    def run():
        try:
            outcome.append(work())
        except Exception as exc:  # reported by the caller's assertion
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_until_blocked(other, outcome: list[object]) -> None:
    """Until the thread (whose `outcome` is still empty) waits on a lock.
    `other` is in autocommit: inside a transaction pg_stat_activity is read
    once."""
    for _ in range(400):
        assert not outcome, f"the thread did not wait: {outcome[0]!r}"
        rows = other.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchall()
        if rows:
            return
        other.execute("SELECT pg_sleep(0.025)")
    raise AssertionError("the thread never waited on a lock")


def test_a_move_into_a_stage_being_removed_waits_and_is_refused(applied, alice):
    inquiry = applied.stages.get(key="inquiry")
    old = applied.stages.get(key="old")
    deal = deal_in(inquiry)
    with _other() as redesign, _other(autocommit=True) as watcher:
        # What `pipeline apply` does first: the removed stage's row, locked,
        # then retired.
        redesign.execute(
            "SELECT 1 FROM pipelines_stage WHERE id = %s FOR UPDATE", [old.pk]
        )
        redesign.execute(
            "UPDATE pipelines_stage SET retired_at = now() WHERE id = %s", [old.pk]
        )
        thread, outcome = _in_thread(
            lambda: move_deal(deal.pk, "old", by=alice, expected_version=1)
        )
        _wait_until_blocked(watcher, outcome)
        redesign.commit()
        thread.join(WAIT)

    assert isinstance(outcome[0], ValidationError)
    assert "was just removed" in outcome[0].message
    deal.refresh_from_db()
    assert deal.stage == inquiry


def test_a_redesign_waits_for_a_move_into_its_removed_stage_and_takes_the_deal(
    applied, alice
):
    inquiry = applied.stages.get(key="inquiry")
    old = applied.stages.get(key="old")
    deal = deal_in(inquiry)
    with _other() as mover, _other(autocommit=True) as watcher:
        # A move into "old" that has checked its stage and not committed yet.
        mover.execute("SELECT 1 FROM pipelines_stage WHERE id = %s FOR SHARE", [old.pk])
        mover.execute(
            "UPDATE deals_deal SET stage_id = %s WHERE id = %s", [old.pk, deal.pk]
        )
        thread, outcome = _in_thread(
            lambda: apply_pipeline(
                spec_of(without_old_stage()), moves={"old": "proposal"}
            )
        )
        _wait_until_blocked(watcher, outcome)
        mover.commit()
        thread.join(WAIT)

    assert not isinstance(outcome[0], Exception), outcome[0]
    deal.refresh_from_db()
    assert deal.stage.key == "proposal"
    retired = Stage.objects.filter(pipeline=applied, retired_at__isnull=False)
    assert not Deal.objects.filter(stage__in=retired, status="open").exists()
