"""A person's name reaches the service as typed, through every door (the
`dealgate user` commands, the admin's forms, the service itself): it is
tidied there, and one that holds nothing visible once tidied (spaces alone,
invisible characters) is refused naming the field, never stored as none."""

from __future__ import annotations

import io

import pytest

from dealgate.accounts.models import User
from dealgate.accounts.services import change_user
from dealgate.cli import main
from dealgate.errors import ValidationError
from tests.accounts.test_admin_people import add_form, change_url, errors_of, form_of

BLANKS = ["   ", "\u200b", "\u3164 \u200b", "\t\u2800"]


@pytest.fixture
def rita(db) -> User:
    return User.objects.create(
        username="rita", role="rep", first_name="Rita", last_name="Alvarez"
    )


def name_of(user: User) -> tuple[str, str]:
    user.refresh_from_db()
    return user.first_name, user.last_name


@pytest.mark.parametrize("typed", BLANKS)
def test_the_service_refuses_a_full_name_that_is_blank_once_tidied(rita, typed):
    with pytest.raises(ValidationError) as refused:
        change_user("rita", name=typed)

    assert refused.value.field == "name"
    assert refused.value.message.startswith("name: holds no visible characters (")
    assert refused.value.message.endswith("; leave it empty for none")
    assert name_of(rita) == ("Rita", "Alvarez")


def test_the_service_tidies_a_name_as_typed(rita):
    change_user("rita", name="  Rita \u200b  Alvarez\u00a0 Diaz ")

    assert name_of(rita) == ("Rita", "Alvarez Diaz")
    change_user("rita", first_name=" Ri\u200bta  Maria ", last_name="\tDiaz ")
    assert name_of(rita) == ("Rita Maria", "Diaz")


def test_an_empty_name_is_none(rita):
    change_user("rita", name="")

    assert name_of(rita) == ("", "")


def test_a_full_name_and_its_parts_together_are_refused(rita):
    with pytest.raises(ValidationError, match="not both") as refused:
        change_user("rita", name="Rita Diaz", last_name="Diaz")

    assert refused.value.field == "name"
    assert name_of(rita) == ("Rita", "Alvarez")


def test_a_full_name_too_long_for_its_last_part_is_refused(rita):
    with pytest.raises(ValidationError, match="the last name is 151 characters"):
        change_user("rita", name="R " + "x" * 151)


@pytest.mark.parametrize("typed", BLANKS)
def test_user_set_refuses_a_blank_name_naming_it(rita, typed, capsys):
    assert main(["user", "set", "rita", "--name", typed]) == 2

    err = capsys.readouterr().err
    assert err.startswith("dealgate: name: holds no visible characters (")
    assert name_of(rita) == ("Rita", "Alvarez")


def test_user_set_stores_the_name_tidied_and_clears_it_when_empty(rita, capsys):
    assert main(["user", "set", "rita", "--name", "  Rita   Diaz  "]) == 0
    assert name_of(rita) == ("Rita", "Diaz")

    assert main(["user", "set", "rita", "--name", ""]) == 0
    assert name_of(rita) == ("", "")


def test_user_add_refuses_a_blank_name(db, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-pw\n"))

    args = ["user", "add", "carol", "--role", "rep", "--password-stdin"]
    assert main([*args, "--name", "  "]) == 2

    assert "dealgate: name: holds no visible characters" in capsys.readouterr().err
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_the_admin_change_form_refuses_a_blank_name_beside_its_field(
    admin, rita, field
):
    answer = admin.post(change_url(rita), form_of(rita, **{field: "   "}))

    assert answer.status_code == 200
    label = field.replace("_", " ")
    assert errors_of(answer)[field] == [
        f"{label}: holds no visible characters (U+0020, U+0020, U+0020); "
        "leave it empty for none"
    ]
    assert name_of(rita) == ("Rita", "Alvarez")


def test_the_admin_change_form_stores_names_tidied(admin, rita):
    answer = admin.post(change_url(rita), form_of(rita, last_name="  Alvarez  Diaz "))

    assert answer.status_code == 302
    assert name_of(rita) == ("Rita", "Alvarez Diaz")


def test_the_admin_add_form_refuses_a_blank_name_beside_its_field(admin):
    answer = admin.post("/admin/accounts/user/add/", add_form(name="   "))

    assert answer.status_code == 200
    assert errors_of(answer)["name"][0].startswith(
        "name: holds no visible characters (U+0020, U+0020, U+0020)"
    )
    assert not User.objects.filter(username="carol").exists()
