"""People offered for choosing are listed by the name shown, not by
username: "Demo Owner" (username demo) sits between "Alice" and "Max", not
before them."""

from __future__ import annotations

from dealgate.accounts.models import User, by_display_name
from dealgate.builder.forms import people_and_teams


def _person(username: str, first: str, last: str) -> User:
    return User.objects.create_user(username, first_name=first, last_name=last)


def test_people_are_sorted_by_display_name_case_aside(db):
    made = [
        _person("zz", "aaron", "Able"),
        _person("demo", "Demo", "Owner"),
        _person("alpha", "Zoe", "Last"),
        _person("plain", "", ""),
    ]

    names = [user.display_name for user in by_display_name(made)]

    assert names == ["aaron Able", "Demo Owner", "plain", "Zoe Last"]


def test_the_builders_owner_choices_list_people_by_display_name(db):
    _person("alice", "Alice", "Rep")
    _person("demo", "Demo", "Owner")
    _person("aaa-max", "Max", "Manager")

    people = [label for value, label in people_and_teams() if value.startswith("user:")]

    assert people == ["Alice Rep", "Demo Owner", "Max Manager"]


def test_the_boards_owner_filter_lists_owners_by_display_name(pipeline, now):
    from dealgate.deals.queries import board_for
    from tests.web.helpers import make_deal

    for person in (
        _person("zz", "Aaron", "Able"),
        _person("demo", "Demo", "Owner"),
        _person("alpha", "Zoe", "Last"),
        _person("bare", "", ""),
    ):
        make_deal(pipeline, "discovery", owner=person)

    owners = board_for(pipeline, now=now).owners

    assert [user.display_name for user in owners] == [
        "Aaron Able",
        "bare",
        "Demo Owner",
        "Zoe Last",
    ]
