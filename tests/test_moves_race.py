"""Two workers moving the same deal at the same instant: one wins, one is told."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import move_deal
from dealgate.errors import Conflict

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_racing_moves_give_one_winner_and_one_conflict(
    pipeline, alice, max_manager, round_
):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("an in-memory SQLite database is private to one thread")
    stage = pipeline.stages.get(key="inquiry")
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Racy deal",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker(user, target):
        try:
            barrier.wait()
            move_deal(deal.pk, target, by=user, expected_version=1)
            outcomes.append("moved")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # any other failure shows in the assert
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(alice, "discovery")),
        threading.Thread(target=worker, args=(max_manager, "proposal")),
    ]
    # The pinned time is process-wide, so it is set here, not in the threads.
    with timesource.frozen_at(T0 + dt.timedelta(hours=1)):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(outcomes) == ["conflict", "moved"]
    deal.refresh_from_db()
    assert deal.version == 2
    assert StageEvent.objects.filter(deal=deal).count() == 1
