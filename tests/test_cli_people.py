"""`dealgate user` and `dealgate team`: a firm sets up its people without the
demo or the admin pages."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dealgate.accounts.models import Team, User
from dealgate.cli import main


def run(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def test_a_first_admin_added_from_the_command_line_can_sign_in(db, monkeypatch):
    code = run(
        monkeypatch,
        "user", "add", "mara", "--role", "admin", "--email", "mara@firm.example",
        "--name", "Mara Vogel", "--password-stdin",
        stdin="long-enough-secret\n",
    )  # fmt: skip

    assert code == 0
    mara = User.objects.get(username="mara")
    assert (mara.role, mara.get_full_name(), mara.email) == (
        "admin",
        "Mara Vogel",
        "mara@firm.example",
    )
    assert mara.is_staff and mara.is_superuser  # the admin pages too
    client = Client()
    assert client.login(username="mara", password="long-enough-secret")
    assert client.get("/").status_code == 200


def test_a_team_gets_a_manager_and_reps_join_it(db, monkeypatch, capsys):
    secret = "long-enough-secret\n"
    run(monkeypatch, "user", "add", "ivo", "--role", "manager", "--password-stdin",
        stdin=secret)  # fmt: skip
    assert run(monkeypatch, "team", "add", "Nord", "--manager", "ivo") == 0
    run(monkeypatch, "user", "add", "lea", "--role", "rep", "--team", "Nord",
        "--password-stdin", stdin=secret)  # fmt: skip
    capsys.readouterr()

    assert run(monkeypatch, "team", "list") == 0

    nord = Team.objects.get(name="Nord")
    assert nord.manager.username == "ivo"
    assert set(nord.members.values_list("username", flat=True)) == {"ivo", "lea"}
    assert capsys.readouterr().out.splitlines() == [
        "team  manager  members",
        "Nord  ivo      ivo, lea",
    ]


def test_team_list_columns_are_as_wide_as_their_longest_value(db, monkeypatch, capsys):
    User.objects.create(username="ivo-from-the-east-office", role="manager")
    Team.objects.create(
        name="Enterprise accounts, north and east",
        manager=User.objects.get(username="ivo-from-the-east-office"),
    )
    Team.objects.create(name="北区营业部")  # wide characters: two cells each
    Team.objects.create(name="Nord")
    capsys.readouterr()

    assert run(monkeypatch, "team", "list") == 0

    assert capsys.readouterr().out.splitlines() == [
        "team                                 manager                   members",
        "Enterprise accounts, north and east  ivo-from-the-east-office  nobody yet",
        "Nord                                 -                         nobody yet",
        "北区营业部                           -                         nobody yet",
    ]


def test_team_list_reads_the_teams_and_their_members_in_two_queries(
    db, monkeypatch, capsys
):
    for number in range(6):
        manager = User.objects.create(username=f"lead{number}", role="manager")
        team = Team.objects.create(name=f"Team {number}", manager=manager)
        for rep in range(3):
            User.objects.create(username=f"rep{number}-{rep}", role="rep", team=team)
    capsys.readouterr()

    with CaptureQueriesContext(connection) as queries:
        assert run(monkeypatch, "team", "list") == 0

    # The teams with their managers, then every member at once.
    assert len(queries) == 2, [query["sql"] for query in queries]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    assert lines[1].split() == ["Team", "0", "lead0", "rep0-0,", "rep0-1,", "rep0-2"]


def test_user_list_columns_are_as_wide_as_their_longest_value(db, monkeypatch, capsys):
    team = Team.objects.create(name="Enterprise accounts, north and east")
    User.objects.create(username="a-rather-long-username-indeed", role="manager")
    User.objects.create(username="bo", role="rep", team=team, email="bo@firm.example")
    User.objects.create(username="cy", role="rep", is_active=False)
    capsys.readouterr()

    assert run(monkeypatch, "user", "list") == 0

    assert capsys.readouterr().out.splitlines() == [
        "a-rather-long-username-indeed  manager  -",
        "bo                             rep      Enterprise accounts, north and east"
        "  bo@firm.example",
        "cy                             rep      -  (inactive)",
    ]


@pytest.mark.parametrize(
    ("argv", "stdin", "says"),
    [
        (["user", "add", "x", "--role", "rep", "--password-stdin"], "short\n",
         "password must be at least 8 characters"),
        (["user", "add", "x", "--role", "rep", "--team", "Süd", "--password-stdin"],
         "long-enough-secret\n", "no team 'Süd'; add it with: dealgate team add"),
        (["user", "add", "alice", "--role", "rep", "--password-stdin"],
         "long-enough-secret\n", "there is already a user 'alice'"),
        (["team", "add", "Nord", "--manager", "alice"], "",
         "alice is a rep; make them a manager first"),
        (["user", "set", "nobody", "--role", "rep"], "", "no user 'nobody'"),
        (["user", "add", "ALICE", "--role", "rep", "--password-stdin"],
         "long-enough-secret\n", "there is already a user 'alice'"),
        (["user", "add", "x" * 151, "--role", "rep", "--password-stdin"],
         "long-enough-secret\n", "username is 151 characters long; the limit is 150"),
        (["user", "add", "two words", "--role", "rep", "--password-stdin"],
         "long-enough-secret\n", "username must not hold spaces"),
        (["user", "add", "x", "--role", "rep", "--email", "not an email",
          "--password-stdin"], "long-enough-secret\n", "is not an email address"),
        (["user", "add", "x", "--role", "rep", "--password-stdin"], " " * 9 + "\n",
         "password must not be blank"),
        (["team", "add", "t" * 101], "", "name is 101 characters long"),
    ],
)  # fmt: skip
def test_what_cannot_be_done_is_refused_in_one_line_and_changes_nothing(
    alice, monkeypatch, capsys, argv, stdin, says
):
    users, teams = User.objects.count(), Team.objects.count()

    assert run(monkeypatch, *argv, stdin=stdin) == 2

    assert says in capsys.readouterr().err
    assert (User.objects.count(), Team.objects.count()) == (users, teams)


def test_without_a_terminal_the_password_must_come_from_stdin(db, monkeypatch, capsys):
    assert run(monkeypatch, "user", "add", "x", "--role", "rep") == 2
    assert "use --password-stdin" in capsys.readouterr().err
    assert not User.objects.filter(username="x").exists()


def test_a_person_who_left_can_no_longer_sign_in_and_keeps_their_history(
    alice, monkeypatch
):
    alice.set_password("long-enough-secret")
    alice.save()

    assert run(monkeypatch, "user", "set", "alice", "--inactive") == 0
    assert not Client().login(username="alice", password="long-enough-secret")
    assert User.objects.filter(username="alice", is_active=False).exists()

    assert run(monkeypatch, "user", "set", "alice", "--active") == 0
    assert run(monkeypatch, "user", "password", "alice", "--password-stdin",
               stdin="another-long-one\n") == 0  # fmt: skip
    assert Client().login(username="alice", password="another-long-one")


def test_a_manager_who_stops_leading_leaves_the_team_without_one(db, monkeypatch):
    secret = "long-enough-secret\n"
    for name in ("ivo", "eva"):
        run(monkeypatch, "user", "add", name, "--role", "manager",
            "--password-stdin", stdin=secret)  # fmt: skip
    run(monkeypatch, "team", "add", "Nord", "--manager", "ivo")
    run(monkeypatch, "team", "add", "Süd", "--manager", "eva")

    # Leading a second team ends leading the first.
    assert run(monkeypatch, "team", "set", "Süd", "--manager", "ivo") == 0
    assert Team.objects.get(name="Nord").manager is None
    assert Team.objects.get(name="Süd").manager.username == "ivo"
    # A rep, or someone who left, leads no team.
    assert run(monkeypatch, "user", "set", "ivo", "--role", "rep") == 0
    assert Team.objects.get(name="Süd").manager is None
    run(monkeypatch, "team", "set", "Nord", "--manager", "eva")
    assert run(monkeypatch, "user", "set", "eva", "--inactive") == 0
    assert Team.objects.get(name="Nord").manager is None
    assert run(monkeypatch, "team", "set", "Nord", "--manager", "eva") == 2


def test_a_new_team_led_by_another_team_s_manager_warns_that_one_has_none(
    db, monkeypatch, capsys
):
    run(monkeypatch, "user", "add", "ivo", "--role", "manager",
        "--password-stdin", stdin="long-enough-secret\n")  # fmt: skip
    run(monkeypatch, "team", "add", "Nord", "--manager", "ivo")
    capsys.readouterr()

    assert run(monkeypatch, "team", "add", "Field Sales", "--manager", "ivo") == 0

    assert Team.objects.get(name="Nord").manager is None
    assert (
        "team Nord has no manager now: ivo no longer leads it, and leads team "
        "Field Sales now; give it one: dealgate team set 'Nord' --manager USERNAME"
    ) in capsys.readouterr().err


def test_setting_a_team_s_manager_warns_of_the_team_they_stop_leading(
    db, monkeypatch, capsys
):
    for name in ("ivo", "eva"):
        run(monkeypatch, "user", "add", name, "--role", "manager",
            "--password-stdin", stdin="long-enough-secret\n")  # fmt: skip
    run(monkeypatch, "team", "add", "Nord", "--manager", "ivo")
    run(monkeypatch, "team", "add", "Süd", "--manager", "eva")
    capsys.readouterr()

    assert run(monkeypatch, "team", "set", "Süd", "--manager", "ivo") == 0

    err = capsys.readouterr().err
    assert "team Nord has no manager now: ivo no longer leads it, and leads" in err
    assert "Süd has no manager" not in err  # eva's team went to ivo


def test_the_only_active_admin_cannot_be_demoted_or_deactivated(
    db, monkeypatch, capsys
):
    User.objects.create(username="mara", role="admin")
    User.objects.create(username="rita", role="rep")

    demoted = run(monkeypatch, "user", "set", "mara", "--role", "manager")
    deactivated = run(monkeypatch, "user", "set", "mara", "--inactive")

    assert demoted == deactivated == 2
    err = capsys.readouterr().err
    assert "mara is the only active admin; make another person admin first" in err
    mara = User.objects.get(username="mara")
    assert (mara.role, mara.is_active) == ("admin", True)


def test_an_admin_steps_down_once_another_is_admin(db, monkeypatch):
    User.objects.create(username="mara", role="admin")
    User.objects.create(username="otto", role="manager")

    assert run(monkeypatch, "user", "set", "otto", "--role", "admin") == 0
    assert run(monkeypatch, "user", "set", "mara", "--role", "manager") == 0
    assert run(monkeypatch, "user", "set", "otto", "--inactive") == 2
    assert User.objects.get(username="otto").is_active


def test_a_person_s_name_and_email_change_from_the_command_line(db, monkeypatch):
    User.objects.create(username="rita", role="rep", email="old@firm.example")

    code = run(
        monkeypatch,
        "user", "set", "rita", "--name", "Rita Alvarez Diaz",
        "--email", "rita@firm.example",
    )  # fmt: skip
    refused = run(monkeypatch, "user", "set", "rita", "--email", "not an address")

    assert (code, refused) == (0, 2)
    rita = User.objects.get(username="rita")
    assert (rita.first_name, rita.last_name, rita.email) == (
        "Rita",
        "Alvarez Diaz",
        "rita@firm.example",
    )
