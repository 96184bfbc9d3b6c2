"""PostgreSQL: the rate limit's check and count are one step per client
address (formhits.take_hit), taken under a transaction lock on the client's
key. A submission checked while another worker's is being counted waits for
it, and is checked against the count that worker left: at READ COMMITTED it
would otherwise read the count as it was and be let through as well."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.db.models import Sum

from dealgate import timesource
from dealgate.leads import formhits
from dealgate.leads.models import FormHit
from tests.locking import OtherSession, until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a lock between sessions; SQLite's transaction takes the write lock",
    ),
]


def _taken_while_the_other_counts(other: OtherSession) -> list[bool]:
    """`take_hit` for a visitor while `other`, another worker's session, is
    midway through its own: its lock taken and its hit written, not yet
    committed."""
    at = timesource.wall_now()
    table = FormHit._meta.db_table
    earlier = at - dt.timedelta(seconds=1)
    other.raw.execute("BEGIN")
    other.raw.execute(formhits.lock_sql(), [formhits.LOCK_SPACE, "visitor"])
    other.raw.execute(
        f"INSERT INTO {table} (client, window_start, count) VALUES (%s, %s, 1)",
        ["visitor", earlier],
    )
    taken: list[bool] = []

    def run() -> None:
        try:
            taken.append(formhits.take_hit("visitor", at))
        finally:
            connection.close()

    checking = threading.Thread(target=run)
    checking.start()
    until(lambda: other.waiting_for_locks() == 1)
    other.raw.execute("COMMIT")
    checking.join(10)
    return taken


def test_a_submission_checked_while_another_is_counted_waits_and_is_refused(
    other, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 1

    taken = _taken_while_the_other_counts(other)

    assert taken == [False]
    assert FormHit.objects.aggregate(total=Sum("count"))["total"] == 1


def test_a_submission_checked_while_another_is_counted_passes_when_it_fits(
    other, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2

    taken = _taken_while_the_other_counts(other)

    assert taken == [True]
    assert FormHit.objects.aggregate(total=Sum("count"))["total"] == 2
