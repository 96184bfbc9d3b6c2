"""Win rate, average won value, sales cycle, velocity, breakdowns and losses
of deals closed in the period."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Organization, Product
from dealgate.insights import queries, reports

from .conftest import START, day, filters_for, move, open_deal, walk

pytestmark = pytest.mark.django_db


def totals(pipeline, **params):
    return queries.outcomes(filters_for(pipeline, **params))[0]


def test_win_rate_is_won_over_won_and_lost(pipeline):
    walk(pipeline, ["inquiry", "won"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry"])

    found = totals(pipeline)

    assert (found.won, found.lost) == (1, 2)
    assert found.win_rate == pytest.approx(1 / 3)


def test_with_nothing_closed_the_win_rate_is_unknown(pipeline):
    walk(pipeline, ["inquiry"])

    assert totals(pipeline).win_rate is None


def test_the_average_won_value_leaves_other_currencies_out(pipeline):
    walk(pipeline, ["inquiry", "won"], value=1000)
    walk(pipeline, ["inquiry", "won"], value=3000)
    walk(pipeline, ["inquiry", "won"], value=9999, currency="EUR")
    walk(pipeline, ["inquiry", "won"], value=None)

    found = totals(pipeline)

    assert found.valued == 2
    assert found.average_won_value == pytest.approx(2000)


def test_the_sales_cycle_is_calendar_days_from_creation_to_win(pipeline):
    for days in (2, 4, 9):
        move(open_deal(pipeline, "inquiry", START), "won", day(days))
    move(open_deal(pipeline, "inquiry", START), "lost", day(30))

    found = totals(pipeline)

    assert found.cycle.median == pytest.approx(4)
    assert found.cycle_mean == pytest.approx(5)
    assert found.cycle.unit == "calendar days"


def test_only_deals_closed_in_the_period_count(pipeline):
    move(open_deal(pipeline, "inquiry", START), "won", day(1))
    move(open_deal(pipeline, "inquiry", START), "lost", day(40))

    found = totals(pipeline, period="", **{"from": "2026-03-01", "to": "2026-03-31"})

    assert (found.won, found.lost) == (1, 0)


def test_sales_velocity_multiplies_the_factors_and_divides_by_the_cycle(pipeline):
    move(open_deal(pipeline, "inquiry", START, value=3000), "won", day(10))
    move(open_deal(pipeline, "inquiry", START), "lost", day(10))
    for _ in range(4):
        open_deal(pipeline, "discovery", day(1))

    report = reports.overview(filters_for(pipeline), day(20))
    headline = {row[0]: row[1] for row in report.table("headline").rows}

    # 4 open x 50% x 3,000 / 10 days.
    assert headline["Sales velocity"] == pytest.approx(600)
    assert headline["Open deals"] == 4


def test_velocity_of_deals_won_the_day_they_were_created_divides_by_one_day(
    pipeline,
):
    # Won ten minutes after creation, the same day: a mean cycle of no
    # calendar day (0.007 elapsed days made velocity 144 times the open
    # deals' worth per day).
    created = day(10)
    move(open_deal(pipeline, "inquiry", created, value=3000), "won", day(10.007))
    move(open_deal(pipeline, "inquiry", created), "lost", day(10.5))
    for _ in range(4):
        open_deal(pipeline, "discovery", day(11))

    report = reports.overview(filters_for(pipeline), day(12))
    rows = {row[0]: row for row in report.table("headline").rows}

    assert rows["Sales cycle, mean"][1] == 0
    # 4 open x 50% x 3,000 / 1 day.
    assert rows["Sales velocity"][1] == pytest.approx(6000)
    assert rows["Sales velocity"][3] == (
        "open deals x win rate x average won value / mean cycle; the mean cycle "
        "is under a day, so it counts as one day"
    )
    assert "; the mean cycle is under a day, so it counts as one day" in (report.text())


def test_velocity_says_when_many_open_deals_are_past_their_age_limit(pipeline):
    move(open_deal(pipeline, "inquiry", START, value=3000), "won", day(10))
    for _ in range(3):
        open_deal(pipeline, "discovery", day(1))
    open_deal(pipeline, "discovery", day(19))

    def said(now):
        report = reports.overview(filters_for(pipeline), now)
        return {row[0]: row[3] for row in report.table("headline").rows}

    # Discovery's limit is 5 business days: on day 20 three of four are past
    # it. On day 1.5 the four open deals are the three in discovery and the
    # one still in inquiry (limit 2 business days), none past its limit.
    assert said(day(20))["Sales velocity"].endswith(
        "; 3 of the 4 open deals are past their stage's age limit, so this is "
        "likely high"
    )
    assert said(day(1.5))["Sales velocity"] == (
        "open deals x win rate x average won value / mean cycle"
    )


def test_outcomes_break_down_by_owner(pipeline, alice, bob):
    walk(pipeline, ["inquiry", "won"], owner=alice)
    walk(pipeline, ["inquiry", "lost"], owner=alice)
    walk(pipeline, ["inquiry", "won"], owner=bob)

    found = {row.key: row for row in queries.outcomes(filters_for(pipeline), "owner")}

    assert found[alice.pk].win_rate == pytest.approx(0.5)
    assert found[bob.pk].win_rate == 1


def test_outcomes_break_down_by_team_product_source_and_segment(pipeline, alice):
    gadget = Product.objects.create(name="Gadget")
    acme = Organization.objects.create(name="Acme", sector="retail")
    walk(
        pipeline,
        ["inquiry", "won"],
        owner=alice,
        product=gadget,
        source="web",
        organization=acme,
    )
    walk(pipeline, ["inquiry", "lost"])
    filters = filters_for(pipeline)

    by = {
        name: {row.key: (row.won, row.lost) for row in queries.outcomes(filters, name)}
        for name in ("team", "product", "source", "segment")
    }

    assert by["team"] == {alice.team_id: (1, 0), None: (0, 1)}
    assert by["product"] == {gadget.pk: (1, 0), None: (0, 1)}
    assert by["source"] == {"web": (1, 0), "": (0, 1)}
    assert by["segment"] == {"retail": (1, 0), None: (0, 1)}


def test_filters_on_team_source_segment_and_product(pipeline, alice, bob, olivia):
    gadget = Product.objects.create(name="Gadget")
    acme = Organization.objects.create(name="Acme", sector="retail")
    walk(pipeline, ["inquiry", "won"], owner=alice, source="web")
    walk(pipeline, ["inquiry", "won"], owner=olivia, organization=acme)
    walk(pipeline, ["inquiry", "lost"], owner=olivia, product=gadget)

    assert totals(pipeline, team=str(alice.team_id)).won == 1
    assert totals(pipeline, source="web").won == 1
    assert totals(pipeline, segment="retail").won == 1
    assert totals(pipeline, product="Gadget").lost == 1


def test_losses_are_grouped_by_the_stage_lost_from_and_reason(pipeline):
    walk(pipeline, ["inquiry", "discovery", "lost"])
    walk(pipeline, ["inquiry", "discovery", "lost"])
    deal = walk(pipeline, ["inquiry"])
    move(deal, "lost", day(2), loss_reason="other", loss_note="went quiet")

    found = [
        (row.stage.key, row.reason, row.deals)
        for row in queries.losses(filters_for(pipeline))
    ]

    assert found == [("inquiry", "other", 1), ("discovery", "price", 2)]


def test_where_lost_deals_leave_lists_every_stage_with_its_share(pipeline):
    walk(pipeline, ["inquiry", "discovery", "lost"])
    walk(pipeline, ["inquiry", "lost"])
    walk(pipeline, ["inquiry", "lost"])

    report = reports.bottlenecks(filters_for(pipeline), day(10))
    rows = {row[0]: row[1:] for row in report.table("lost_from").rows}

    assert rows["Inquiry received"][:2] == [2, pytest.approx(2 / 3)]
    assert rows["Discovery call booked"][:2] == [1, pytest.approx(1 / 3)]
    assert rows["Contract out"][:2] == [0, pytest.approx(0)]


def test_the_most_given_loss_reason_names_every_reason_tied_for_it(pipeline):
    for reason, note in [("price", ""), ("other", "went quiet")] * 2:
        deal = walk(pipeline, ["inquiry"])
        move(deal, "lost", day(2), loss_reason=reason, loss_note=note)
    walk(pipeline, ["inquiry", "discovery", "lost"])

    report = reports.bottlenecks(filters_for(pipeline), day(10))
    rows = {row[0]: row[1:] for row in report.table("lost_from").rows}

    assert rows["Inquiry received"][0] == 4
    assert rows["Inquiry received"][2] == "tied: Other, Price (2 each)"
    assert rows["Discovery call booked"][2] == "Price"
    assert rows["Contract out"][2] == ""
