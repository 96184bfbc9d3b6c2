"""The daily rollups answer exactly what the scans of the deals answer.

Randomized histories (moves forward and back, skips, wins, losses, reopened
deals, owner, product, source and value edits through every door, imports
without dates, deleted deals) are compared query by query against the direct
SQL over the deals: before any fold (the change log alone), after a fold (the
rollup alone) and in between.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals.models import Deal, Product, StageEvent
from dealgate.deals.services import update_deal
from dealgate.imports.mappings import MAVEN_DEMO_DIR
from dealgate.imports.services import import_deals
from dealgate.insights import queries, review, rollups, sql
from dealgate.insights.filters import JUST_AFTER
from dealgate.insights.models import ClosedDay, DealChange
from dealgate.insights.queries import fetch
from tests.conftest import NOW
from tests.importing import make_import_pipeline

from .conftest import day, filters_for, move, open_deal

pytestmark = pytest.mark.django_db

STAGES = ["inquiry", "discovery", "proposal", "review", "contract"]
SOURCES = ["", "web", "partner"]


def _instant(rng: random.Random, after: dt.datetime) -> dt.datetime:
    """Some hours after `after`, often across a UTC midnight near a Berlin one."""
    return after + dt.timedelta(hours=rng.choice((1, 5, 13, 22.5, 23.5, 30, 49)))


def _history(pipeline, rng: random.Random, users: list, products: list) -> None:
    """Twenty-odd deals walked at random through the product's own doors."""
    for n in range(22):
        at = day(rng.randrange(0, 20)) + dt.timedelta(minutes=rng.randrange(1440))
        deal = open_deal(
            pipeline,
            rng.choice(STAGES[:3]),
            at,
            title=f"Deal {n}",
            owner=rng.choice([*users, None]),
            value=rng.choice([None, 500, 1200, 9999]),
            currency=rng.choice(["USD", "USD", "EUR"]),
            source=rng.choice(SOURCES),
            product=rng.choice([*products, None]),
            record_entry=rng.random() > 0.15,
        )
        for _ in range(rng.randrange(0, 7)):
            at = _instant(rng, at)
            deal.refresh_from_db()
            roll = rng.random()
            if deal.status != "open":
                if roll < 0.5:  # reopened into some stage
                    deal = move(deal, rng.choice(STAGES), at)
                continue
            if roll < 0.2:
                deal = move(deal, "won", at)
            elif roll < 0.4:
                deal = move(deal, "lost", at)
            else:
                others = [key for key in STAGES if key != deal.stage.key]
                deal = move(deal, rng.choice(others), at)  # forward, back, skip
        edit = rng.random()
        if edit < 0.2:
            update_deal(
                deal.pk,
                {"owner_id": rng.choice(users).pk, "value": Decimal(rng.randrange(9))},
                by=None,
                expected_version=deal.version,
                # A closed deal's figures are corrected with a reason.
                reason="" if deal.status == Deal.Status.OPEN else "corrected",
            )
        elif edit < 0.35:
            Deal.objects.filter(pk=deal.pk).update(  # a bulk door: no signals
                source=rng.choice(SOURCES), product=rng.choice(products)
            )
        elif edit < 0.45:
            deal.refresh_from_db()
            deal.currency = "EUR" if deal.currency == "USD" else "USD"
            deal.save()
        elif edit < 0.5:
            StageEvent.objects.filter(deal=deal).delete()
            deal.delete()


def _scopes(pipeline, users, products) -> list[sql.Scope]:
    """All time, local-day periods (whose bounds cut UTC days), an odd-hour
    period, and each filter the rollup is keyed for."""
    whole = filters_for(pipeline).scope()
    local = filters_for(pipeline, **{"from": "2026-03-05", "to": "2026-03-17"})
    odd = whole.__class__(
        **{
            **whole.__dict__,
            "start": day(3) + dt.timedelta(hours=7, minutes=13),
            "end": day(15) + dt.timedelta(hours=2),
        }
    )
    period = local.scope()
    found = [whole, period, odd]
    for changes in (
        {"owner_id": users[0].pk},
        {"team_id": users[0].team_id},
        {"product_id": products[0].pk},
        {"source": "web"},
        {"source": ""},
    ):
        found.append(period.__class__(**{**period.__dict__, **changes}))
    return found


def _closed_rows(rows) -> dict:
    def cents(value):
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))

    return {
        row[0]: (
            int(row[1]),
            int(row[2]),
            int(row[3]),
            cents(row[4]),
            int(row[5]),
            None if row[6] is None else pytest.approx(float(row[6]), rel=1e-9),
        )
        for row in rows
    }


def _week_bounds(pipeline) -> list[dt.datetime]:
    facts = filters_for(pipeline).facts
    mondays = [dt.date(2026, 2, 23) + dt.timedelta(weeks=n) for n in range(6)]
    return review.week_bounds(facts, mondays)


def _assert_rollups_match_the_deals(pipeline, users, products) -> None:
    dialect = queries.dialect()
    for scope in _scopes(pipeline, users, products):
        for group in (None, "owner", "team", "product", "source"):
            rolled = rollups.closed(dialect, scope, group)
            if rolled is None:
                continue
            grouping = sql.GROUPINGS[group] if group else sql.ALL
            direct = sql.closed(dialect, scope, grouping)
            assert _closed_rows(fetch(rolled)) == _closed_rows(fetch(direct)), (
                scope,
                group,
            )
            rolled = rollups.entered(dialect, scope, group)
            direct = sql.entered(dialect, scope, grouping)
            assert dict(fetch(rolled)) == dict(fetch(direct)), (scope, group)
        lost = rollups.lost_by_stage(dialect, scope)
        if lost is not None:
            counted = {(s, r): int(n) for s, r, n in fetch(lost)}
            direct = {(s, r): n for s, r, n in fetch(sql.lost_by_stage(dialect, scope))}
            assert counted == direct, scope
    bounds = _week_bounds(pipeline)
    week_scope = filters_for(pipeline).scope(start=bounds[0], end=bounds[-1])
    adapted = [dialect.instant(bound) for bound in bounds]
    rolled = rollups.closed(dialect, week_scope, bounds=bounds)
    direct = sql.closed(dialect, week_scope, sql.buckets("d.closed_at", adapted))
    assert _closed_rows(fetch(rolled)) == _closed_rows(fetch(direct))
    rolled = rollups.entered(dialect, week_scope, bounds=bounds)
    direct = sql.entered(dialect, week_scope, sql.buckets(sql.ENTRY, adapted))
    assert dict(fetch(rolled)) == dict(fetch(direct))


@pytest.fixture
def people(team, alice, bob, django_user_model):
    carol = django_user_model.objects.create(username="carol", role="rep")
    return [alice, bob, carol]


@pytest.fixture
def products(db):
    return [Product.objects.create(name=f"Product {n}") for n in range(3)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rollups_equal_the_scans_over_random_histories(
    pipeline, people, products, seed
):
    rng = random.Random(seed)
    _history(pipeline, rng, people, products)
    _assert_rollups_match_the_deals(pipeline, people, products)  # the log alone

    assert queries.fold() > 0
    assert not DealChange.objects.exists()
    _assert_rollups_match_the_deals(pipeline, people, products)  # the rollup alone

    _history(pipeline, rng, people, products)  # more changes over folded rows
    _assert_rollups_match_the_deals(pipeline, people, products)  # both
    queries.fold()
    _assert_rollups_match_the_deals(pipeline, people, products)


def test_a_reopened_win_leaves_the_rollup_and_its_empty_row_is_dropped(pipeline):
    deal = move(open_deal(pipeline, "inquiry", day(0)), "won", day(2))
    queries.fold()
    assert ClosedDay.objects.filter(status="won").count() == 4  # one per dim

    move(deal, "proposal", day(3))
    queries.fold()

    assert not ClosedDay.objects.exists()
    assert queries.outcomes(filters_for(pipeline))[0].won == 0


def test_an_ordinary_move_of_an_open_deal_logs_nothing(pipeline):
    deal = open_deal(pipeline, "inquiry", day(0))
    queries.fold()

    move(move(deal, "discovery", day(1)), "inquiry", day(2))

    assert not DealChange.objects.exists()


def test_moving_an_undated_deal_logs_no_entry(pipeline):
    deal = open_deal(pipeline, "inquiry", day(0), record_entry=False)
    queries.fold()

    move(deal, "discovery", day(1))

    assert not DealChange.objects.exists()


def test_an_owner_change_moves_a_closed_deal_between_owners(pipeline, alice, bob):
    deal = move(open_deal(pipeline, "inquiry", day(0), owner=alice), "won", day(1))
    queries.fold()

    Deal.objects.filter(pk=deal.pk).update(owner=bob)

    found = {
        row.key: row.won for row in queries.outcomes(filters_for(pipeline), "owner")
    }
    assert found == {bob.pk: 1}


def test_whole_days_are_read_from_the_rollup_alone(pipeline):
    dialect = queries.dialect()
    unbounded = replace(filters_for(pipeline).scope(), end=None)
    whole = rollups.closed(dialect, unbounded, "owner")
    local = filters_for(pipeline, **{"from": "2026-03-05", "to": "2026-03-17"})
    cut = rollups.closed(dialect, local.scope(), "owner")

    assert "deals_deal" not in whole.sql
    assert "deals_deal" in cut.sql  # the hours before the Berlin midnights


def test_all_time_reads_the_deals_only_for_the_day_now_cuts(pipeline):
    scope = filters_for(pipeline).scope()

    assert scope.end == NOW + JUST_AFTER
    assert rollups.split([scope.start, scope.end]).cut == (NOW.date(),)


def test_a_segment_filter_is_asked_of_the_deals(pipeline):
    scope = filters_for(pipeline).scope()
    segment = scope.__class__(**{**scope.__dict__, "segment": "retail"})

    assert rollups.closed(queries.dialect(), segment) is None
    assert rollups.serving_dim(scope, "segment") is None


def test_a_period_splits_into_whole_utc_days_and_the_days_its_bounds_cut():
    berlin_midnight = dt.datetime(2026, 3, 4, 23, 0, tzinfo=dt.UTC)
    utc_midnight = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)

    found = rollups.split([berlin_midnight, utc_midnight])

    assert found == rollups.Days(
        dt.date(2026, 3, 5), dt.date(2026, 3, 10), (dt.date(2026, 3, 4),)
    )
    assert rollups.split([None, None]) == rollups.Days(None, None, ())


@pytest.mark.parametrize("seed", [5, 6])
def test_outcomes_with_their_total_equal_the_two_separate_reads(
    pipeline, people, products, seed
):
    rng = random.Random(seed)
    _history(pipeline, rng, people, products)
    queries.fold()
    _history(pipeline, rng, people, products)  # some of it still in the log
    periods = [{}, {"from": "2026-03-05", "to": "2026-03-17"}]
    filters = [
        filters_for(pipeline, **period, **extra)
        for period in periods
        for extra in ({}, {"owner": people[0].username}, {"source": "web"})
    ]

    for one in filters:
        for by in ("owner", "team", "product", "source", "segment"):
            total, groups = queries.outcomes_and_total(one, by)

            assert total == queries.outcomes(one)[0], (one.query(), by)
            assert groups == queries.outcomes(one, by), (one.query(), by)


def test_an_imported_file_is_logged_as_its_rows_would_be_one_by_one(
    django_user_model,
):
    pipeline = make_import_pipeline("maven")
    report = import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=pipeline)
    assert report.committed and report.deals_created == 8_800
    users = list(django_user_model.objects.filter(deals__isnull=False).distinct())
    products = list(Product.objects.all())

    _assert_rollups_match_the_deals(pipeline, users, products)  # the log alone
    queries.fold()
    _assert_rollups_match_the_deals(pipeline, users, products)  # the rollup alone

    # The insert trigger is back: a deal made after the import is logged too.
    later = move(open_deal(pipeline, "prospecting", day(1)), "won", day(2))
    assert DealChange.objects.filter(kind="c", day=later.closed_at.date()).exists()


def test_a_fold_with_nothing_logged_takes_no_write_lock(pipeline):
    queries.fold()
    with CaptureQueriesContext(connection) as seen:
        assert queries.fold() == 0
    assert [q["sql"].split()[0] for q in seen.captured_queries] == ["SELECT"]


def test_a_fold_on_sqlite_gives_up_while_another_writer_holds_the_lock(
    pipeline, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer")
    move(open_deal(pipeline, "inquiry", day(0)), "won", day(1))

    def locked(last_id):
        raise OperationalError("database is locked")

    monkeypatch.setattr(rollups, "fold_sqlite", locked)
    assert queries.fold() == 0
    assert DealChange.objects.exists()  # still there for the next fold
    assert queries.outcomes(filters_for(pipeline))[0].won == 1  # and counted
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] > 0  # the wait is given back


def _lend_columns(lend: bool) -> None:
    """Add (or drop again) the columns today's code writes that migrations
    after the test's `before` add: deals_deal.updated_at, clocks_clock.late_after."""
    from dealgate.clocks.models import Clock

    with connection.cursor() as cursor:
        for model, name in ((Deal, "updated_at"), (Clock, "late_after")):
            table = model._meta.db_table
            columns = connection.introspection.get_table_description(cursor, table)
            there = any(column.name == name for column in columns)
            if lend and not there:
                kind = model._meta.get_field(name).db_type(connection)
                cursor.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind} NULL")
            elif not lend and there:
                cursor.execute(f"ALTER TABLE {table} DROP COLUMN {name}")


@pytest.mark.django_db(transaction=True)
def test_upgrading_takes_back_the_entries_logged_at_a_move(pipeline, people, products):
    from django.db.migrations.executor import MigrationExecutor

    before = [
        ("insights", "0004_insert_log_always"),
        ("deals", "0013_activity_tags_lower_case"),
    ]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        # Today's code writes the deals below, and their clocks, into columns
        # later migrations add: they are lent meanwhile.
        _lend_columns(True)
        undated = open_deal(pipeline, "inquiry", day(0), record_entry=False)
        move(undated, "discovery", day(3))  # the old triggers log it entering
        queries.fold()
        entered = open_deal(pipeline, "inquiry", day(1))
        Deal.objects.filter(pk=entered.pk).update(created_at=None)
        move(entered, "discovery", day(4))
    finally:
        _lend_columns(False)
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    assert Deal.objects.get(pk=entered.pk).created_at == day(1)
    _assert_rollups_match_the_deals(pipeline, people, products)
    queries.fold()
    _assert_rollups_match_the_deals(pipeline, people, products)
    days = filters_for(pipeline).scope(start=day(0), end=day(5))
    assert sum(n for _, n in fetch(rollups.entered(queries.dialect(), days))) == 1
