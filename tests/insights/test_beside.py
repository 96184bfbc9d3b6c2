"""Statements sent ahead of the page (`queries.ahead`): on PostgreSQL they run
on other connections in the page's snapshot and give the figures the page's
own connection gives; nested in another transaction they stay on the page's
connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dealgate.deals.models import Deal
from dealgate.insights import queries, reports, sql
from tests.conftest import NOW

from .conftest import filters_for, open_deal, walk

COUNT = sql.Query("SELECT COUNT(*), pg_backend_pid() FROM deals_deal")

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL runs statements beside the page",
)


def _own_pid() -> int:
    return queries.fetch(sql.Query("SELECT pg_backend_pid()"))[0][0]


def _commit_a_deal_elsewhere(pipeline) -> None:
    """Create a deal on another connection, committed at once."""

    def create() -> None:
        try:
            open_deal(pipeline, "inquiry", NOW, title="Late")
        finally:
            connection.close()

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()


def _tables(report: reports.Report) -> list[tuple[str, list]]:
    return [(s.table.key, s.table.rows) for s in report.sections]


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_statement_sent_ahead_reads_the_page_snapshot_on_another_connection(
    pipeline,
):
    open_deal(pipeline, "inquiry", NOW, title="Early")

    with queries.session():
        before = queries.fetch(COUNT)[0][0]
        _commit_a_deal_elsewhere(pipeline)
        queries.ahead([COUNT])
        # Wait for it where it runs, so the page cannot take it back.
        queries._local.state.pending[(COUNT.sql, COUNT.params)].result()
        count, pid = queries.fetch(COUNT)[0]
        own_pid = _own_pid()

    assert Deal.objects.count() == before + 1
    assert count == before
    assert pid != own_pid


@needs_postgresql
def test_a_nested_session_runs_statements_sent_ahead_on_its_own_connection(
    pipeline,
):
    open_deal(pipeline, "inquiry", NOW)

    with queries.session():
        queries.ahead([COUNT])
        count, pid = queries.fetch(COUNT)[0]
        own_pid = _own_pid()

    # The test's transaction is not visible elsewhere: the deal counts here.
    assert count == 1
    assert pid == own_pid


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_overview_gives_the_same_figures_with_statements_sent_ahead(
    pipeline, alice, bob, monkeypatch
):
    walk(pipeline, ["inquiry", "discovery", "proposal", "won"], owner=alice)
    walk(pipeline, ["inquiry", "proposal", "discovery", "lost"], owner=bob)
    walk(pipeline, ["inquiry", "discovery", "won"], every=3, owner=bob)
    walk(pipeline, ["inquiry", "discovery"], owner=alice)
    filters = filters_for(pipeline)
    beside: list[str] = []
    run_beside = queries._run_beside

    def recorded(snapshot: str, query: sql.Query):
        beside.append(query.sql)
        return run_beside(snapshot, query)

    monkeypatch.setattr(queries, "_run_beside", recorded)
    monkeypatch.setattr(queries, "BESIDE", 0)
    with queries.session():
        alone = reports.overview(filters, NOW, by="owner")
    assert beside == []

    monkeypatch.setattr(queries, "BESIDE", 3)
    with queries.session():
        shared = reports.overview(filters, NOW, by="owner")

    assert beside
    assert _tables(shared) == _tables(alone)
