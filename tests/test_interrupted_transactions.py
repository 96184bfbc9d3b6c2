"""An interrupt landing inside Django's atomic() exit never keeps the work.

Django's outermost atomic() commits or rolls back, then turns autocommit
back on in a `finally`. A Ctrl-C arriving as it starts to roll back skips
the rollback: on SQLite, turning autocommit on then committed the open
transaction, and on PostgreSQL it failed with "can't change 'autocommit'
now", burying the interrupt. Both backends roll back instead.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from dealgate.deals.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)


class Undone(Exception):
    pass


@pytest.fixture
def rollback_interrupted(monkeypatch):
    """Ctrl-C landing as the outermost atomic() calls for its rollback."""
    calls = []

    def interrupted():
        calls.append("rollback")
        raise KeyboardInterrupt

    monkeypatch.setattr(connection, "rollback", interrupted)
    return calls


def test_an_interrupt_as_a_failed_block_rolls_back_keeps_nothing(
    rollback_interrupted, monkeypatch
):
    with pytest.raises(KeyboardInterrupt), transaction.atomic():
        Organization.objects.create(name="Written before the error")
        raise Undone
    monkeypatch.undo()
    assert rollback_interrupted == ["rollback"]
    assert not Organization.objects.exists()
    assert connection.get_autocommit()


def test_an_interrupt_as_a_dry_run_rolls_back_keeps_nothing(
    rollback_interrupted, monkeypatch
):
    with pytest.raises(KeyboardInterrupt), transaction.atomic():
        Organization.objects.create(name="Only tried")
        transaction.set_rollback(True)
    monkeypatch.undo()
    assert not Organization.objects.exists()
    # The connection is usable, in autocommit, for what comes next.
    Organization.objects.create(name="Next")
    assert list(Organization.objects.values_list("name", flat=True)) == ["Next"]


def test_autocommit_turned_on_mid_transaction_rolls_back(caplog):
    transaction.set_autocommit(False)
    try:
        Organization.objects.create(name="Left open")
    finally:
        transaction.set_autocommit(True)
    assert not Organization.objects.exists()
    assert "autocommit turned on with a transaction open; rolling it back" in (
        caplog.text
    )
