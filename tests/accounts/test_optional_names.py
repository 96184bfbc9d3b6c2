"""A person's name is optional: empty means none, but text given for it holds
something visible. Spaces alone are refused as a zero-width space is, naming
the code points, so that a blank typed over a name never clears it unseen."""

from __future__ import annotations

import pytest

from dealgate.accounts.models import User
from dealgate.accounts.services import add_user, change_user
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    ("typed", "points"),
    [("   ", "(U+0020, U+0020, U+0020)"), ("\u200b", "(U+200B)")],
)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_a_blank_name_is_refused_and_the_stored_one_kept(alice, field, typed, points):
    User.objects.filter(pk=alice.pk).update(first_name="Alice", last_name="Rep")

    with pytest.raises(ValidationError) as refused:
        change_user("alice", **{field: typed})

    assert refused.value.field == field
    label = field.replace("_", " ")
    assert refused.value.message.startswith(f"{label}: ")
    assert points in refused.value.message
    assert refused.value.message.endswith("; leave it empty for none")
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alice", "Rep")


def test_an_empty_name_clears_it_and_a_name_is_kept_trimmed(alice):
    change_user("alice", first_name="  Alice ", last_name="")

    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alice", "")


@pytest.mark.parametrize("typed", ["   ", "\u200b \u200b"])
def test_a_new_persons_blank_name_is_refused(db, typed):
    with pytest.raises(ValidationError) as refused:
        add_user("carol", role="rep", password=PASSWORD, name=typed)

    assert refused.value.field == "name"
    assert "holds no visible characters" in refused.value.message
    assert not User.objects.filter(username="carol").exists()


def test_a_new_person_may_have_no_name(db):
    user = add_user("carol", role="rep", password=PASSWORD, name="")

    assert (user.first_name, user.last_name) == ("", "")
