"""The rollups' change log as a bulk load writes it.

Triggers on deals_deal (migrations 0002, 0003 and 0005) append each change of a
deal's contribution to `insights_dealchange`. On SQLite they run once per
row, which cost an import of 100,000 deals about 40% of its time; a loader
may instead lift the insert trigger for its transaction and append the
changes of each batch of deals it writes in two set-based statements. The
SQL is the migrations' own, so the two ways write the same rows.
"""

from __future__ import annotations

import importlib
from typing import Any

_rollups = importlib.import_module("dealgate.insights.migrations.0002_rollups")
_entries = importlib.import_module(
    "dealgate.insights.migrations.0005_entry_is_creation"
)

SQLITE_INSERT_TRIGGER = "insights_deal_inserted"


def lift_insert_trigger(cursor: Any) -> str | None:
    """SQLite: drop the per-row insert trigger, inside the caller's
    transaction (a rollback brings it back). Returns its definition as the
    database holds it, for `restore_insert_trigger`; None if there is none."""
    found = cursor.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
        (SQLITE_INSERT_TRIGGER,),
    ).fetchone()
    if found is None:
        return None
    cursor.execute(f"DROP TRIGGER {SQLITE_INSERT_TRIGGER}")
    return found[0]


def log_inserted(cursor: Any, first_id: int, last_id: int) -> None:
    """SQLite: log the deals with ids from `first_id` to `last_id`, as the
    lifted insert trigger would have. The caller must hold the write lock,
    so that no one else inserted deals with those ids."""
    insert = f"INSERT INTO insights_dealchange ({_rollups.CHANGE_COLUMNS}) SELECT"
    closed = _rollups._closed_values("sqlite", "d", 1)
    entered = _entries.entered_values("sqlite", "d", 1)
    cursor.execute(
        f"{insert} {closed} FROM deals_deal d "
        f"WHERE d.id BETWEEN ? AND ? AND {_rollups._closed('d')}",
        (first_id, last_id),
    )
    cursor.execute(
        f"{insert} {entered} FROM deals_deal d "
        f"WHERE d.id BETWEEN ? AND ? AND {_entries.entry('d')} IS NOT NULL",
        (first_id, last_id),
    )


def restore_insert_trigger(cursor: Any, definition: str) -> None:
    """SQLite: put the insert trigger back as it was (after `log_inserted`
    has logged what it would have)."""
    cursor.execute(definition)
