"""A manager who leaves hands the team they lead to their successor, when the
successor may lead it (an active manager or admin who leads no other team):
the successor joins the team and leads it, and the hand-over says so. Without
a successor who may, the team is left without a manager, which the command
warns of (naming how to give it one) and reactivating does not undo."""

from __future__ import annotations

import io
import logging

import pytest

from dealgate.accounts import services
from dealgate.accounts.models import Team, User
from dealgate.cli import main
from dealgate.clocks.models import Notice
from dealgate.clocks.sweep import sweep
from tests.accounts.test_admin_people import change_url, form_of
from tests.clocks.conftest import berlin, place_deal
from tests.conftest import NOW, PASSWORD


def run(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return main(list(argv))


@pytest.fixture
def mia(django_user_model):
    """A manager who leads no team yet."""
    return django_user_model.objects.create_user(
        username="mia", password=PASSWORD, role="manager", first_name="Mia"
    )


def manager_of(team: Team) -> User | None:
    team.refresh_from_db()
    return team.manager


def test_a_leaving_manager_s_team_goes_to_the_successor_who_joins_it(
    team, max_manager, mia, monkeypatch, capsys
):
    assert run(monkeypatch, "user", "set", "max", "--inactive", "--hand-to", "mia") == 0

    out = capsys.readouterr().out
    assert "handed over to mia: the lead of team Central" in out
    assert manager_of(team) == mia
    mia.refresh_from_db()
    assert mia.team == team


def test_the_hand_over_summary_names_the_team_with_the_work(
    pipeline, team, max_manager, alice, mia, now
):
    place_deal(pipeline, "inquiry", owner=max_manager, entered=NOW)

    user = services.change_user("max", active=False, hand_to="mia")

    assert str(user.handed_over) == (
        "1 open deal, 1 running or overdue clock and the lead of team Central"
    )


def test_the_team_s_escalations_go_to_the_successor_after_the_hand_over(
    pipeline, team, max_manager, alice, mia, now
):
    services.change_user("max", active=False, hand_to="mia")
    # In "inquiry" (2-day limit) since Monday 1 June: breached and escalated.
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1, 9))

    sweep(now=NOW)

    (escalation,) = Notice.objects.filter(kind=Notice.Kind.ESCALATION)
    assert escalation.user == mia
    assert "as an admin" not in escalation.body


def test_a_rep_successor_takes_the_work_but_not_the_team(
    team, max_manager, bob, monkeypatch, capsys, caplog
):
    with caplog.at_level(logging.WARNING, logger="dealgate.accounts"):
        code = run(monkeypatch, "user", "set", "max", "--inactive", "--hand-to", "bob")

    assert code == 0
    assert manager_of(team) is None
    assert "the lead of team" not in capsys.readouterr().out
    assert (
        "team Central has no manager now: max no longer leads it, and bob is a "
        "rep; give it one: dealgate team set 'Central' --manager USERNAME"
    ) in caplog.text


def test_a_successor_who_leads_another_team_keeps_theirs(
    team, max_manager, mia, caplog
):
    north = services.add_team("North", manager="mia")

    with caplog.at_level(logging.WARNING, logger="dealgate.accounts"):
        user = services.change_user("max", active=False, hand_to="mia")

    assert (manager_of(team), manager_of(north)) == (None, mia)
    assert user.handed_over.teams == ()
    assert "and mia already leads team North" in caplog.text


def test_an_admin_successor_may_take_the_team(team, max_manager, olivia):
    user = services.change_user("max", active=False, hand_to="olivia")

    assert manager_of(team) == olivia
    assert user.handed_over.teams == ("Central",)


def test_without_a_successor_the_team_is_left_without_a_manager_for_good(
    team, max_manager, monkeypatch, capsys
):
    assert run(monkeypatch, "user", "set", "max", "--inactive") == 0
    err = capsys.readouterr().err
    assert "team Central has no manager now: max no longer leads it; give it" in err

    assert run(monkeypatch, "user", "set", "max", "--active") == 0

    assert manager_of(team) is None


def test_the_admin_page_says_the_team_went_to_the_successor(
    admin, team, max_manager, mia
):
    answer = admin.post(
        change_url(max_manager),
        form_of(max_manager, is_active=False, hand_to="mia"),
        follow=True,
    )

    page = answer.content.decode()
    assert "Handed over from max to mia: the lead of team Central." in page
    assert "has no manager now" not in page
    assert manager_of(team) == mia
