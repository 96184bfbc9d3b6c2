import datetime as dt
from decimal import Decimal

import pytest

from dealgate.core.calendar import Calendar
from dealgate.deals.queries import (
    Money,
    board_for,
    card_place,
    column_page,
    stage_age,
)
from dealgate.pipelines.models import Pipeline, Stage
from tests.conftest import NOW

from .helpers import make_deal


def columns_by_key(board):
    return {column.stage.key: column for column in board.columns}


# Wed 10 June 2026, 14:00 in Berlin; the week before has no holidays.
BERLIN = Calendar.from_dict(
    {
        "timezone": "Europe/Berlin",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
)


def age_since(delta, limit):
    return stage_age(NOW - delta, NOW, limit=limit, calendar=BERLIN)


def test_age_counts_business_days_in_the_pipeline_calendar_and_says_so():
    age = age_since(dt.timedelta(weeks=2), limit=30)
    assert (age.elapsed, age.limit, age.unit) == (10, 30, "business days")
    assert age.label == "10 of 30 business days"


def test_a_weekend_adds_nothing_to_an_age():
    # Fri 5 June 14:00 to Mon 8 June 14:00: one working day.
    friday = dt.datetime(2026, 6, 5, 12, 0, tzinfo=dt.UTC)
    monday = dt.datetime(2026, 6, 8, 12, 0, tzinfo=dt.UTC)
    assert stage_age(friday, monday, limit=2, calendar=BERLIN).elapsed == 1


def test_part_of_a_day_shows_one_decimal():
    age = age_since(dt.timedelta(hours=4), limit=2)
    assert age.label == "0.5 of 2 business days"


def test_age_is_at_risk_once_it_reaches_the_limit_as_its_clock_runs_out():
    before = age_since(dt.timedelta(days=6), limit=5)
    at_limit = age_since(dt.timedelta(weeks=1), limit=5)
    over = age_since(dt.timedelta(weeks=1, hours=4), limit=5)
    assert not before.at_risk
    assert at_limit.at_risk
    assert at_limit.label == "5 of 5 business days, at the limit"
    assert over.at_risk
    assert over.label == "5.5 of 5 business days, 0.5 over the limit"


def test_age_of_a_deal_with_unknown_entry_is_unknown_and_never_at_risk():
    age = stage_age(None, NOW, limit=1, calendar=BERLIN)
    assert not age.known
    assert not age.at_risk
    assert age.label == "entered: unknown"


def test_age_without_a_stage_limit_is_never_at_risk():
    age = age_since(dt.timedelta(weeks=80), limit=None)
    assert not age.at_risk
    assert age.label == "400 business days, no limit"


def test_age_of_an_entry_after_now_is_zero_not_negative():
    assert age_since(-dt.timedelta(days=3), limit=2).elapsed == 0


def test_columns_follow_stage_positions_with_counts_totals_and_shares(pipeline, now):
    make_deal(pipeline, "inquiry", value=100)
    make_deal(pipeline, "inquiry", value=200)
    make_deal(pipeline, "discovery", value=300)
    make_deal(pipeline, "proposal", value=None)
    make_deal(pipeline, "proposal", status="won", value=9999)
    make_deal(pipeline, "contract", status="lost", value=9999)

    board = board_for(pipeline, now=now)

    assert [c.stage.key for c in board.columns] == [
        "inquiry",
        "discovery",
        "proposal",
        "review",
        "contract",
    ]
    summary = [(c.count, c.totals, c.percent) for c in board.columns]
    assert summary == [
        (2, (Money(Decimal(300), "USD"),), 50),
        (1, (Money(Decimal(300), "USD"),), 25),
        (1, (), 25),  # a deal without a value: no total, rather than $0
        (0, (), 0),
        (0, (), 0),
    ]
    assert board.open_count == 4
    assert board.totals == (Money(Decimal(600), "USD"),)


def test_deals_of_other_pipelines_stay_off_the_board(pipeline, now):
    other = Pipeline.objects.create(key="renewals", name="Renewals")
    Stage.objects.create(pipeline=other, key="inquiry", name="Inquiry", position=0)
    make_deal(other, "inquiry")
    make_deal(pipeline, "inquiry")

    assert board_for(pipeline, now=now).open_count == 1


def test_totals_in_other_currencies_are_kept_apart(pipeline, now):
    make_deal(pipeline, "inquiry", value=100, currency="EUR")
    make_deal(pipeline, "inquiry", value=250, currency="USD")

    column = columns_by_key(board_for(pipeline, now=now))["inquiry"]

    assert column.totals == (
        Money(Decimal(250), "USD"),
        Money(Decimal(100), "EUR"),
    )


def test_cards_show_the_oldest_in_stage_first_and_unknown_entries_last(pipeline, now):
    make_deal(pipeline, "inquiry", title="unknown", days_in_stage=None)
    make_deal(pipeline, "inquiry", title="fresh", days_in_stage=1)
    make_deal(pipeline, "inquiry", title="stale", days_in_stage=9)

    column = columns_by_key(board_for(pipeline, now=now))["inquiry"]

    assert [card.title for card in column.cards] == ["stale", "fresh", "unknown"]
    assert [card.age.at_risk for card in column.cards] == [True, False, False]
    assert column.cards[2].age.label == "entered: unknown"


def test_a_long_column_shows_its_first_cards_and_counts_the_rest(pipeline, now):
    for day in range(7):
        make_deal(pipeline, "discovery", title=f"d{day}", days_in_stage=day)

    column = columns_by_key(board_for(pipeline, now=now, cards_per_column=3))[
        "discovery"
    ]

    assert [card.title for card in column.cards] == ["d6", "d5", "d4"]
    assert (column.count, column.more) == (7, 4)


def test_column_pages_continue_where_the_board_stopped(pipeline, now):
    for day in range(7):
        make_deal(pipeline, "discovery", title=f"d{day}", days_in_stage=day)
    stage = pipeline.stages.get(key="discovery")

    column = columns_by_key(board_for(pipeline, now=now, cards_per_column=3))[
        "discovery"
    ]
    after = card_place(column.cards[-1])

    page = column_page(stage, now=now, after=after, limit=3)
    last = column_page(stage, now=now, after=card_place(page.cards[-1]), limit=3)

    assert [card.title for card in page.cards] == ["d3", "d2", "d1"]
    assert (page.first, page.last, page.more) == (4, 6, 1)
    assert page.next_place == str(card_place(page.cards[-1]))
    assert [card.title for card in last.cards] == ["d0"]
    assert (last.first, last.more) == (7, 0)


def test_a_card_that_leaves_the_first_page_hides_none_from_the_next(pipeline, now):
    deals = [
        make_deal(pipeline, "discovery", title=f"d{day}", days_in_stage=day)
        for day in range(7)
    ]
    stage = pipeline.stages.get(key="discovery")
    column = columns_by_key(board_for(pipeline, now=now, cards_per_column=3))[
        "discovery"
    ]
    moved, closed = deals[5], deals[6]  # d5 and d6 are on the first page
    moved.stage = pipeline.stages.get(key="proposal")
    moved.save()
    closed.status = closed.Status.WON
    closed.closed_at = now
    closed.save()

    page = column_page(stage, now=now, after=card_place(column.cards[-1]), limit=3)

    assert [card.title for card in page.cards] == ["d3", "d2", "d1"]
    assert page.more == 1


def test_owner_filter_narrows_counts_totals_and_cards(pipeline, alice, bob, now):
    make_deal(pipeline, "inquiry", title="mine", value=100, owner=alice)
    make_deal(pipeline, "inquiry", title="his", value=900, owner=bob)
    make_deal(pipeline, "review", title="also his", owner=bob)

    board = board_for(pipeline, owner=alice, now=now)
    inquiry = columns_by_key(board)["inquiry"]

    assert board.open_count == 1
    assert board.owners == [alice, bob]
    assert [card.title for card in inquiry.cards] == ["mine"]
    assert inquiry.totals == (Money(Decimal(100), "USD"),)
    assert inquiry.percent == 100


def test_cards_carry_organization_owner_and_value(pipeline, alice, now):
    make_deal(pipeline, "inquiry", value=12500, owner=alice, organization="Acme")

    card = columns_by_key(board_for(pipeline, now=now))["inquiry"].cards[0]

    assert (card.organization, card.owner, card.value, card.currency) == (
        "Acme",
        "Alice Rep",
        Decimal(12500),
        "USD",
    )


@pytest.mark.parametrize("deals", [5, 60])
def test_the_board_costs_the_same_few_queries_however_many_deals(
    pipeline, alice, now, django_assert_num_queries, deals
):
    for n in range(deals):
        make_deal(pipeline, "proposal", owner=alice, organization=f"Org {n % 7}")

    # Stages; counts and totals; the first cards of every column; the owners.
    with django_assert_num_queries(4):
        board = board_for(pipeline, now=now, cards_per_column=30)
        assert sum(len(c.cards) for c in board.columns) == min(deals, 30)


def test_the_owner_filter_offers_only_people_with_open_deals(
    pipeline, alice, bob, olivia, now
):
    make_deal(pipeline, "inquiry", owner=bob)
    make_deal(pipeline, "inquiry", owner=alice, status="won")

    assert board_for(pipeline, now=now).owners == [bob]
