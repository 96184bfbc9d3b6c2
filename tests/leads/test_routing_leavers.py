"""A lead is never routed to someone who may no longer sign in, nor lost
because its person leaves.

After a deactivation, every door that routes a lead passes the leaver over
(both databases). During one (PostgreSQL, two sessions), routing passes the
leaver over at once, without waiting for the hand-over, however long it
takes; routing that came first holds the hand-over until its lead is
stored, and the hand-over takes that lead too. Each race test holds one
transaction open while the other session runs: a door that came during it
waits for a lock at most SHORT_WAIT, so one that waited would fail as a
request does after WEB_DB_WAIT (no timing guesses, no sleeping it out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from dealgate.accounts import services
from dealgate.accounts.handover import hold
from dealgate.accounts.models import User
from dealgate.clocks.models import Clock
from dealgate.errors import ValidationError
from dealgate.leads.imports import import_leads, mapping_from_dict
from dealgate.leads.models import Lead, LeadAssignment
from dealgate.leads.services import (
    assign_lead,
    capture_lead,
    hand_over_lead,
    merge_lead,
    route_waiting_leads,
    split_lead,
)
from dealgate.leads.tokens import create_token
from dealgate.web import busy
from tests.conftest import NOW
from tests.locking import OtherSession, until

from .conftest import inquiry

pytestmark = pytest.mark.django_db(transaction=True)

# Seconds a door run during a deactivation waits for a lock: far less than a
# request's WEB_DB_WAIT, so that one which waited fails instead.
SHORT_WAIT = 0.2

# Leads from Germany go to alice, else to bob; the rest to olivia.
RULES = [
    {"name": "DACH", "when": {"country": ["DE"]}, "to": "user:alice"},
    {"name": "DACH cover", "when": {"country": ["DE"]}, "to": "user:bob"},
    {"name": "everyone else", "to": "user:olivia", "fallback": True},
]
MAPPING = {
    "name": "website",
    "source": "website",
    "columns": {
        "external_id": "Id",
        "name": "Name",
        "email": "Email",
        "country": "Country",
    },
}


@pytest.fixture
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises "
            "writers, and its test database is private to one thread"
        )


@pytest.fixture
def _short_waits(settings) -> None:
    """Requests wait SHORT_WAIT for a lock, as Worker's own statements do."""
    settings.WEB_DB_WAIT = SHORT_WAIT


@pytest.fixture
def leaving(routed, alice, bob, max_manager, olivia, now):
    """The pipeline with RULES, and alice holding an open lead of her own,
    so that her deactivation hands over work."""
    routed.settings = {"routing": RULES}
    routed.save()
    _lead(routed, "Held", owner=alice)
    return routed


def _lead(pipeline, name: str, owner=None) -> Lead:
    return Lead.objects.create(
        pipeline=pipeline,
        name=name,
        email=f"{name.lower()}@firm.example",
        country="DE",
        channel="api",
        created_at=NOW,
        owner=owner,
        status=Lead.Status.ASSIGNED if owner else Lead.Status.NEW,
        assigned_at=NOW if owner else None,
    )


class Worker(threading.Thread):
    """Runs `write` in a session of its own; keeps its outcome."""

    def __init__(self, write: Callable[[], object], wait: float | None = None) -> None:
        super().__init__()
        self.write = write
        self.wait = wait
        self.outcome = "not run"

    def run(self) -> None:
        try:
            if self.wait is not None:
                # Its statements wait at most `wait` for a lock.
                busy.set_wait(connection, self.wait)
            self.write()
            self.outcome = "written"
        except Exception as exc:  # any failure shows in the assert
            self.outcome = repr(exc)
        finally:
            connections.close_all()


def _doors(pipeline, bob, max_manager, tmp_path) -> dict[str, Callable[[], object]]:
    """Each way a lead from Germany is routed, by the rules, to alice: the
    lead made for it is named Routed. Returns the callables to run."""
    secret = create_token(max_manager, "website")[1]
    waiting = _lead(pipeline, "Waiting")
    bobs = _lead(pipeline, "Bobs", owner=bob)
    csv = tmp_path / "leads.csv"
    csv.write_text("Id,Name,Email,Country\nw1,Routed,routed@firm.example,DE\n")
    data = inquiry(name="Routed")

    def api() -> None:
        response = Client().post(
            "/api/v1/leads",
            data,
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 202, response.content  # a capture token

    def form() -> None:
        response = Client().post("/leads/form/new-business/", data)
        assert response.status_code == 200, response.content

    def lead_import() -> None:
        report = import_leads(
            csv, mapping_from_dict(MAPPING, "website"), pipeline=pipeline
        )
        assert report.committed, report.bad_rows

    def route_again() -> None:
        Lead.objects.filter(pk=bobs.pk).update(name="Routed")
        assign_lead(bobs.pk, None, by=max_manager, note="bob is full")

    def sweep() -> None:
        Lead.objects.filter(pk=waiting.pk).update(name="Routed")
        assert route_waiting_leads(now=NOW) == 1

    return {
        "api capture": api,
        "form capture": form,
        "in-process capture": lambda: capture_lead(data, source="api"),
        "lead import": lead_import,
        "routing again": route_again,
        "the sweep placing a waiting lead": sweep,
    }


DOORS = [
    "api capture",
    "form capture",
    "in-process capture",
    "lead import",
    "routing again",
    "the sweep placing a waiting lead",
]


def _routed() -> Lead:
    return Lead.objects.select_related("owner").get(name="Routed")


@pytest.mark.parametrize("door", DOORS)
def test_a_lead_routed_after_the_hand_over_passes_the_leaver_over(
    leaving, bob, max_manager, olivia, tmp_path, door
):
    write = _doors(leaving, bob, max_manager, tmp_path)[door]
    services.change_user("alice", active=False, hand_to="max", by=olivia)

    write()

    expected = "olivia" if door == "routing again" else "bob"
    assert _routed().owner.username == expected
    assert not Lead.objects.filter(owner__username="alice", status__in=Lead.OPEN)


def test_a_lead_is_not_handed_to_a_successor_deactivated_since_they_were_read(
    leaving, alice, bob, max_manager
):
    held = Lead.objects.get(name="Held")
    User.objects.filter(pk=bob.pk).update(is_active=False)  # bob is as read before

    with pytest.raises(ValidationError, match="owner: bob may not sign in any more"):
        hand_over_lead(held.pk, bob, by=max_manager, note="alice left")

    held.refresh_from_db()
    assert held.owner == alice
    assert not LeadAssignment.objects.filter(lead=held, owner=bob).exists()


def test_a_merged_lead_split_after_its_owner_left_is_routed_again(
    leaving, alice, bob, olivia, now
):
    kept = capture_lead(inquiry(1), source="api").lead
    merged = capture_lead(inquiry(2, name="Routed"), source="api").lead
    decision = merge_lead(merged.pk, by=olivia, into_lead=kept.pk)
    services.change_user("alice", active=False, hand_to="max", by=olivia)

    split_lead(decision.pk, by=olivia)

    reopened = _routed()
    assert (reopened.owner, reopened.status) == (bob, Lead.Status.ASSIGNED)
    assert reopened.routing_reason.startswith(
        "reopened by a split; alice may no longer sign in: "
    )
    assert reopened.assignments.latest("pk").owner == bob
    window = Clock.objects.get(lead=reopened, state=Clock.State.RUNNING)
    assert window.responsible_id == bob.pk


def _during(change: Callable[[], object], write: Callable[[], object]) -> Worker:
    """Run `write` in another session while `change` is made and not yet
    committed (its locks held), and return it finished: it may wait for a
    lock SHORT_WAIT at most, so it cannot wait out the change."""
    worker = Worker(write, wait=SHORT_WAIT)
    with transaction.atomic():
        change()
        worker.start()
        worker.join(10)
    assert not worker.is_alive(), "the door waited for the change to commit"
    return worker


def _leaves(username: str, successor: str, by: User) -> Callable[[], object]:
    return lambda: services.change_user(
        username, active=False, hand_to=successor, by=by
    )


@pytest.mark.usefixtures("_postgresql_only", "_short_waits")
@pytest.mark.parametrize("door", DOORS)
def test_a_lead_routed_during_the_hand_over_goes_to_someone_active_without_waiting(
    leaving, bob, max_manager, olivia, tmp_path, door
):
    write = _doors(leaving, bob, max_manager, tmp_path)[door]

    worker = _during(_leaves("alice", "max", olivia), write)

    assert worker.outcome == "written"
    routed = _routed()
    # Routing again skips bob, who had it: the fallback takes it.
    expected = "olivia" if door == "routing again" else "bob"
    assert routed.owner.username == expected
    assert routed.status == Lead.Status.ASSIGNED
    assert "Alice Rep is off (being deactivated)" in routed.routing_reason
    assert not Lead.objects.filter(owner__username="alice", status__in=Lead.OPEN)


@pytest.mark.usefixtures("_postgresql_only", "_short_waits")
def test_a_capture_whose_only_owner_is_being_handed_over_waits_for_an_owner(
    leaving, max_manager, olivia
):
    leaving.settings = {
        "routing": [{"name": "all", "to": "user:alice", "fallback": True}]
    }
    leaving.save()
    secret = create_token(max_manager, "website")[1]
    answers = []

    def api() -> None:
        answers.append(
            Client().post(
                "/api/v1/leads",
                inquiry(name="Routed"),
                content_type="application/json",
                headers={"Authorization": f"Bearer {secret}"},
            )
        )

    worker = _during(_leaves("alice", "bob", olivia), api)

    assert worker.outcome == "written"
    assert answers[0].status_code == 202, answers[0].content
    routed = _routed()
    assert (routed.owner, routed.status) == (None, Lead.Status.NEW)
    assert "Alice Rep is off (being deactivated)" in routed.routing_reason


@pytest.mark.usefixtures("_postgresql_only", "_short_waits")
def test_a_team_rotation_passes_over_a_member_held_longer_than_the_lock_wait(
    routed, alice, bob
):
    routed.settings = {"routing": [{"name": "team", "to": "team:Central"}]}
    routed.save()

    def held_past_the_wait() -> None:
        hold(alice)  # what a deactivation takes first, held till its commit
        User.objects.filter(pk=alice.pk).update(is_active=False)

    worker = _during(
        held_past_the_wait,
        lambda: capture_lead(inquiry(name="Routed"), source="form"),
    )

    assert worker.outcome == "written"
    lead = _routed()
    assert lead.owner == bob
    assert "skipped Alice Rep (being deactivated)" in lead.routing_reason


@pytest.mark.usefixtures("_postgresql_only", "_short_waits")
def test_an_admin_change_in_progress_passes_no_other_admin_over(
    routed, olivia, django_user_model
):
    django_user_model.objects.create_user("oscar", role=User.Role.ADMIN)
    routed.settings = {"routing": [{"name": "all", "to": "user:olivia"}]}
    routed.save()

    # Demoting oscar locks the other active admins: olivia, whom the lead
    # goes to.
    worker = _during(
        lambda: services.change_user("oscar", role="manager", by=olivia),
        lambda: capture_lead(inquiry(name="Routed"), source="form"),
    )

    assert worker.outcome == "written"
    assert _routed().owner == olivia


@pytest.mark.usefixtures("_postgresql_only")
@pytest.mark.parametrize("door", DOORS)
def test_a_lead_routed_just_before_the_hand_over_is_handed_over_with_the_rest(
    leaving, bob, max_manager, olivia, tmp_path, door
):
    write = _doors(leaving, bob, max_manager, tmp_path)[door]
    routed, release = threading.Event(), threading.Event()

    def route_and_hold() -> None:
        with transaction.atomic():
            write()
            routed.set()
            release.wait(10)

    router = Worker(route_and_hold)
    leaver = Worker(
        lambda: services.change_user("alice", active=False, hand_to="max", by=olivia)
    )
    with OtherSession.opened() as watcher:
        router.start()
        assert routed.wait(10)
        leaver.start()
        until(lambda: watcher.waiting_for_locks() >= 1)
        release.set()
        router.join()
        leaver.join()

    assert (router.outcome, leaver.outcome) == ("written", "written")
    lead = _routed()
    assert lead.owner.username == "max"
    assert "alice left; their work went to max" in lead.routing_reason
    assert not Lead.objects.filter(owner__username="alice", status__in=Lead.OPEN)


@pytest.mark.usefixtures("_postgresql_only")
def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    olivia, django_user_model
):
    django_user_model.objects.create_user("oscar", role=User.Role.ADMIN)
    # The lock that lets routing read olivia (FOR NO KEY UPDATE) still
    # makes the second demotion wait for the first and read it.
    other = Worker(lambda: services.change_user("olivia", role="manager", by=olivia))

    with OtherSession.opened() as watcher:
        with transaction.atomic():
            services.change_user("oscar", role="manager", by=olivia)
            other.start()
            until(lambda: watcher.waiting_for_locks() >= 1)
        other.join()

    assert "olivia is the only active admin" in other.outcome
    assert User.objects.get(username="olivia").role == User.Role.ADMIN
