"""Two workers moving the same deal at the same instant: one wins, one is told."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.services import MoveRefused, move_deal
from dealgate.errors import Conflict

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def skip_on_memory_sqlite():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("an in-memory SQLite database is private to one thread")


def racy_deal(pipeline, owner):
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Racy deal",
        owner=owner,
        created_at=T0,
        stage_entered_at=T0,
    )


def race(deal, *moves):
    """Run each (user, target, expected version) move in its own thread, all
    released at once; returns what became of each, in finishing order."""
    barrier = threading.Barrier(len(moves))
    outcomes: list[str] = []

    def worker(user, target, version):
        try:
            barrier.wait()
            move_deal(deal.pk, target, by=user, expected_version=version)
            outcomes.append("moved")
        except Conflict:
            outcomes.append("conflict")
        except MoveRefused:
            outcomes.append("refused")
        except Exception as exc:  # any other failure shows in the assert
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=move) for move in moves]
    # The pinned time is process-wide, so it is set here, not in the threads.
    with timesource.frozen_at(T0 + dt.timedelta(hours=1)):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_racing_moves_give_one_winner_and_one_conflict(
    pipeline, alice, max_manager, round_
):
    skip_on_memory_sqlite()
    deal = racy_deal(pipeline, alice)

    outcomes = race(deal, (alice, "discovery", 1), (max_manager, "proposal", 1))

    assert sorted(outcomes) == ["conflict", "moved"]
    deal.refresh_from_db()
    assert deal.version == 2
    assert StageEvent.objects.filter(deal=deal).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_a_move_that_waited_for_another_sees_the_deal_as_it_left_it(
    pipeline, alice, max_manager, round_
):
    # No version given: the later move reads the deal after the first one's
    # commit, finds it already in the stage and is refused.
    skip_on_memory_sqlite()
    deal = racy_deal(pipeline, alice)

    outcomes = race(deal, (alice, "discovery", None), (max_manager, "discovery", None))

    assert sorted(outcomes) == ["moved", "refused"]
    deal.refresh_from_db()
    assert (deal.stage.key, deal.version) == ("discovery", 2)
    assert StageEvent.objects.filter(deal=deal).count() == 1
