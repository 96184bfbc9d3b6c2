"""Two people never share an email (ignoring case): `dealgate user add` and
`user set --email` refuse one another person has, naming them, and so does
the people side file of an import for a new person, naming the line and
who has it (a person present, or a new one of an earlier line)."""

from __future__ import annotations

import pytest

from dealgate.accounts.models import User
from dealgate.deals.models import Deal
from tests.test_cli_people import run
from tests.test_import_encodings_and_people import import_with_people

pytestmark = pytest.mark.django_db


def test_user_add_refuses_an_email_another_person_has_naming_them(monkeypatch, capsys):
    User.objects.create(username="rita", role="rep", email="Rita@Firm.example")

    code = run(
        monkeypatch,
        "user", "add", "otto", "--role", "rep", "--email", "rita@firm.example",
        "--password-stdin", stdin="long-enough-secret\n",
    )  # fmt: skip

    assert code == 2
    said = capsys.readouterr().err
    assert "'rita@firm.example' is already the email of rita" in said
    assert not User.objects.filter(username="otto").exists()


def test_user_set_refuses_another_persons_email_and_keeps_ones_own(monkeypatch):
    User.objects.create(username="rita", role="rep", email="rita@firm.example")
    User.objects.create(username="otto", role="rep", email="otto@firm.example")

    taken = run(monkeypatch, "user", "set", "otto", "--email", "RITA@firm.example")
    kept = run(monkeypatch, "user", "set", "rita", "--email", "rita@firm.example")

    assert (taken, kept) == (2, 0)
    assert User.objects.get(username="otto").email == "otto@firm.example"


def test_a_side_files_new_person_may_not_take_a_present_persons_email(tmp_path):
    User.objects.create_user("rita", email="rita@example.com", role="rep")

    report = import_with_people(
        tmp_path, "Otto Side,,,RITA@example.com\n", "S1,One,Otto Side\n"
    )

    assert not report.committed
    assert (
        "people.csv line 2: email: 'RITA@example.com' is already the email of "
        "rita; each person needs their own"
    ) in [str(bad) for bad in report.bad_rows]
    assert not User.objects.filter(username="otto.side").exists()


def test_two_new_people_of_a_side_file_may_not_share_an_email(tmp_path):
    report = import_with_people(
        tmp_path,
        "Otto Side,,,shared@example.com\nAnn Other,,,shared@example.com\n",
        "S1,One,Otto Side\n",
    )

    assert not report.committed
    assert (
        "people.csv line 3: email: 'shared@example.com' is already the email of "
        "'Otto Side' on line 2; each person needs their own"
    ) in [str(bad) for bad in report.bad_rows]


def test_a_person_present_named_again_keeps_their_email(tmp_path):
    ann = User.objects.create_user("ann.oneil", email="ann@example.com")

    report = import_with_people(
        tmp_path, "Ann O'Neil,,,ann@example.com\n", "S1,One,Ann O'Neil\n"
    )

    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert Deal.objects.get().owner == ann
