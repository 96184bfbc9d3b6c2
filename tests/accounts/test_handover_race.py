"""A hand-over while the leaver is still at work (PostgreSQL, two sessions):
when it commits nothing open is left with them, and nothing new lands on
them after. Each test holds one transaction open while the other session's
write waits for its lock, then lets it go (no timing guesses)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from dealgate.accounts import services
from dealgate.deals.models import Deal
from dealgate.deals.services import create_deal, update_deal
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead
from dealgate.leads.services import assign_lead
from tests.conftest import NOW
from tests.locking import OtherSession, until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises "
            "writers, and its test database is private to one thread"
        )


def _deal(pipeline, owner, title: str) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=title,
        owner=owner,
        created_at=NOW,
        stage_entered_at=NOW,
    )


class Worker(threading.Thread):
    """Runs `write` in a session of its own; keeps its outcome."""

    def __init__(self, write: Callable[[], object]) -> None:
        super().__init__()
        self.write = write
        self.outcome = "not run"

    def run(self) -> None:
        try:
            self.write()
            self.outcome = "written"
        except ValidationError as refused:
            self.outcome = refused.message
        except Exception as exc:  # any other failure shows in the assert
            self.outcome = repr(exc)
        finally:
            connections.close_all()


def _doors(pipeline, alice, max_manager) -> dict[str, Callable[[], object]]:
    """Each way a person is given new work, giving it to alice."""
    theirs = _deal(pipeline, max_manager, "Switches for Litware")
    lead = Lead.objects.create(
        pipeline=pipeline, name="Petra", email="petra@firm.example",
        channel="api", created_at=NOW,
    )  # fmt: skip
    return {
        "new deal": lambda: create_deal(pipeline, {"title": "Late one"}, by=alice),
        "owner change": lambda: update_deal(
            theirs.pk, {"owner_id": alice.pk}, by=max_manager, expected_version=1
        ),
        "lead assignment": lambda: assign_lead(lead.pk, alice, by=max_manager),
    }


@pytest.mark.parametrize("door", ["new deal", "owner change", "lead assignment"])
def test_work_given_while_the_hand_over_runs_waits_and_is_refused(
    pipeline, alice, bob, max_manager, olivia, now, door
):
    _deal(pipeline, alice, "Backup for Contoso")
    worker = Worker(_doors(pipeline, alice, max_manager)[door])

    with OtherSession.opened() as watcher:
        with transaction.atomic():
            services.change_user("alice", active=False, hand_to="bob", by=olivia)
            worker.start()
            until(lambda: watcher.waiting_for_locks() >= 1)
        worker.join()

    assert worker.outcome.startswith("owner: alice may not sign in any more")
    assert not Deal.objects.filter(owner=alice, status=Deal.Status.OPEN).exists()
    assert not Deal.objects.filter(responsible=alice, status=Deal.Status.OPEN).exists()
    assert not Lead.objects.filter(owner=alice, status__in=Lead.OPEN).exists()


def test_a_deal_made_just_before_the_hand_over_is_handed_over_with_the_rest(
    pipeline, alice, bob, olivia, now
):
    _deal(pipeline, alice, "Backup for Contoso")
    made, release = threading.Event(), threading.Event()

    def create_and_hold() -> None:
        with transaction.atomic():
            create_deal(pipeline, {"title": "Just in time"}, by=alice)
            made.set()
            release.wait(10)

    creator = Worker(create_and_hold)
    leaver = Worker(
        lambda: services.change_user("alice", active=False, hand_to="bob", by=olivia)
    )
    with OtherSession.opened() as watcher:
        creator.start()
        assert made.wait(10)
        leaver.start()
        until(lambda: watcher.waiting_for_locks() >= 1)
        release.set()
        creator.join()
        leaver.join()

    assert (creator.outcome, leaver.outcome) == ("written", "written")
    titles = Deal.objects.filter(owner=bob, status=Deal.Status.OPEN)
    assert sorted(titles.values_list("title", flat=True)) == [
        "Backup for Contoso",
        "Just in time",
    ]
    assert not Deal.objects.filter(owner=alice, status=Deal.Status.OPEN).exists()
    assert not Deal.objects.filter(responsible=alice, status=Deal.Status.OPEN).exists()
