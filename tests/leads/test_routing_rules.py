"""The [[routing]] rule format and the pure choice of a person (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.core import routing
from dealgate.core.routing import Candidate, parse_rules, pick

RULES = [
    {
        "name": "Big DACH deals",
        "when": {"country": ["de", "AT"], "value": {"min": 10000}},
        "to": "team:Central",
        "how": "weighted",
        "weights": {"alice": 2, "bob": 0},
    },
    {"name": "Partners", "when": {"source": "partner"}, "to": "user:max"},
    {"name": "Rest", "to": "user:olivia", "fallback": True},
]


def test_rules_read_back_to_the_same_tables():
    rules = parse_rules(RULES)

    assert [rule.name for rule in rules] == ["Big DACH deals", "Partners", "Rest"]
    assert rules[0].when[0].values == ("DE", "AT")
    assert parse_rules(routing.rules_to_dicts(rules)) == rules


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": {"country": 3}}, "routing[0].when.country: expected a text"),
        (
            {"when": {"country": ["DE", "Germany"]}},
            "routing[0].when.country: 'Germany' is not a two-letter country code",
        ),
        ({"when": {"colour": "red"}}, "routing[0].when.colour: unknown lead field"),
        (
            {"when": {"value": {"min": 5, "max": 1}}},
            "routing[0].when.value: max 1 is below min 5",
        ),
        (
            {"when": {"value": {"min": "1.000"}}},
            "routing[0].when.value.min: '1.000' could mean 1000 or 1",
        ),
        (
            {"when": {"value": {"max": "12,50"}}},
            "routing[0].when.value.max: '12,50' is not a number; write 12.50",
        ),
        (
            {"when": {"company_size": {"least": 5}}},
            "routing[0].when.company_size.least",
        ),
        ({"to": "group:x"}, "routing[0].to: expected"),
        ({"how": "random"}, "routing[0].how: expected one of"),
        ({"how": "round-robin"}, "routing[0].weights: weights only apply"),
        ({"weights": {"alice": -1}}, "routing[0].weights.alice"),
        ({"name": ""}, "routing[0].name: required"),
        ({"fallback": True}, "routing[0].fallback"),
        ({"extra": 1}, "routing[0].extra: unknown key"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_path(change, message):
    rules = [dict(RULES[0], **change), *RULES[1:]]
    with pytest.raises(
        ValueError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        parse_rules(rules)


def test_the_fallback_must_be_last_and_names_are_unique():
    with pytest.raises(ValueError, match=r"routing\[0\].fallback: .* last rule"):
        parse_rules([RULES[2], RULES[1]])
    with pytest.raises(ValueError, match=r"routing\[1\].name: 'partners' is used"):
        parse_rules([RULES[1], dict(RULES[1], name="partners")])


def test_conditions_say_why_they_hold():
    rules = parse_rules(RULES)
    facts = {"country": "AT", "value": Decimal("25000"), "source": "web"}

    match = routing.matching(rules, facts)[0]

    assert match.reason == (
        'rule "Big DACH deals" (routing[0]): country AT is one of DE, AT; '
        "value 25000 is at least 10000"
    )
    assert [m.rule.name for m in routing.matching(rules, {"country": "FR"})] == ["Rest"]


def test_round_robin_takes_the_next_available_after_the_last():
    people = [Candidate(1, "a"), Candidate(2, "b", off="away"), Candidate(3, "c")]

    first = pick(routing.ROUND_ROBIN, people, {})
    second = pick(routing.ROUND_ROBIN, people, first.state)
    third = pick(routing.ROUND_ROBIN, people, second.state)

    assert [p.chosen.name for p in (first, second, third)] == ["a", "c", "a"]
    assert first.skipped == ["b (away)"]


def test_weighted_round_robin_is_smooth():
    people = [Candidate(1, "a", weight=3), Candidate(2, "b", weight=1)]
    state: dict = {}
    chosen = []
    for _ in range(8):
        picked = pick(routing.WEIGHTED, people, state)
        state = picked.state
        chosen.append(picked.chosen.name)

    assert chosen == ["a", "a", "b", "a", "a", "a", "b", "a"]


def test_nobody_available_is_said():
    picked = pick(routing.LEAST_LOADED, [Candidate(1, "a", off="at capacity")], {})
    assert picked.chosen is None and picked.reason == "nobody is available"


@pytest.mark.django_db
def test_saving_rules_names_every_unknown_person_and_team_at_once():
    from dealgate.accounts.models import Team, User
    from dealgate.errors import ValidationError
    from dealgate.leads.rules import check_rules

    User.objects.create(username="ann")
    User.objects.create(username="gone", is_active=False)
    Team.objects.create(name="North")
    items = [
        {"name": "a", "to": "user:ann"},
        {"name": "b", "to": ["user:ann", "user:zed", "user:gone"]},
        {"name": "c", "to": "team:South"},
        {"name": "d", "to": "team:North"},
    ]
    with pytest.raises(ValidationError) as caught:
        check_rules(items)
    assert str(caught.value) == (
        "routing[1].to: no active user 'zed'; routing[1].to: user 'gone' is "
        "inactive (may no longer sign in); routing[2].to: no team 'South'"
    )
    assert caught.value.field == "routing[1].to"
