"""A country is an assigned ISO 3166-1 alpha-2 code: territories without
phone numbering of their own are countries, XK (not assigned) is not."""

from __future__ import annotations

import pytest

from dealgate.core import routing
from dealgate.core.countries import ALPHA_2, country_code

TERRITORIES = ["AQ", "BV", "HM", "TF", "UM", "GS", "PN"]


def test_the_list_holds_the_249_assigned_codes():
    assert len(ALPHA_2) == 249
    assert all(len(code) == 2 and code.isupper() for code in ALPHA_2)


@pytest.mark.parametrize("code", TERRITORIES)
def test_a_territory_without_phone_numbering_is_a_country(code):
    assert country_code(code.lower()) == code


@pytest.mark.parametrize("typed", ["XK", "xk", "EU", "UK", "AA", "ZZ"])
def test_a_code_iso_has_not_assigned_is_refused_naming_the_field(typed):
    with pytest.raises(ValueError, match=r"^country must be a two-letter ISO 3166"):
        country_code(typed)


def test_a_routing_rule_for_an_unassigned_code_is_refused_as_never_matching():
    rule = {"name": "Kosovo", "when": {"country": ["XK"]}, "to": "user:alice"}

    with pytest.raises(ValueError, match=r"'XK' is not a two-letter country code"):
        routing.parse_rules([rule])


def test_a_routing_rule_for_a_territory_is_kept():
    rule = {"name": "Antarctica", "when": {"country": ["aq"]}, "to": "user:alice"}

    (parsed,) = routing.parse_rules([rule])

    assert parsed.when[0].values == ("AQ",)
