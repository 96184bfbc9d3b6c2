"""Owner, team and product filters find names ignoring case and spacing, on
the pages and in `dealgate report`, as names are found everywhere else."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate import cli, timesource
from dealgate.accounts.models import Team
from dealgate.deals.models import Product
from dealgate.errors import NotFound, ValidationError
from tests.conftest import NOW
from tests.web.helpers import text_of

from .conftest import filters_for, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def central(db) -> Team:
    return Team.objects.create(name="Central (Dustin Brinkmann)")


@pytest.mark.parametrize(
    "typed",
    [
        "central (dustin brinkmann)",
        "  CENTRAL (Dustin  Brinkmann) ",
        "Central (Dustin Brinkmann)",
    ],
)
def test_a_team_is_found_ignoring_case_and_spacing(pipeline, central, typed):
    assert filters_for(pipeline, team=typed).team == central


def test_an_owner_is_found_ignoring_case(pipeline, alice):
    assert filters_for(pipeline, owner=" ALICE ").owner == alice


def test_a_product_is_found_ignoring_case(pipeline):
    product = Product.objects.create(name="GTX Pro")

    assert filters_for(pipeline, product="gtx pro").product == product


def test_the_exact_spelling_wins_over_another_in_another_case(pipeline):
    Product.objects.create(name="Basic")
    lower = Product.objects.create(name="basic")

    assert filters_for(pipeline, product="basic").product == lower


def test_a_name_two_records_share_but_for_case_is_refused_naming_both(pipeline):
    Product.objects.create(name="Basic")
    Product.objects.create(name="basic")

    with pytest.raises(ValidationError) as refused:
        filters_for(pipeline, product="BASIC")

    assert refused.value.field == "product"
    assert "'Basic', 'basic'" in refused.value.message


def test_a_name_that_matches_nothing_is_still_not_found(pipeline, central):
    with pytest.raises(NotFound) as missing:
        filters_for(pipeline, team="north")

    assert missing.value.field == "team"


def test_the_report_command_finds_a_team_in_any_case(capsys, pipeline, central):
    walk(pipeline, ["inquiry", "won"])

    with timesource.frozen_at(NOW):
        status = cli.main(["report", "--team", "central (dustin brinkmann)"])
    out = capsys.readouterr().out

    assert status == 0
    assert "team Central (Dustin Brinkmann)" in out.splitlines()[1]


def test_the_page_finds_an_owner_and_a_product_in_any_case(
    signed_in, pipeline, alice, now
):
    Product.objects.create(name="GTX Pro")

    response = signed_in.get(
        reverse("insights:overview"), {"owner": "Alice", "product": "GTX PRO"}
    )

    assert response.status_code == 200
    assert "owner Alice Rep, product GTX Pro" in text_of(response)
