"""The rollups' entered days follow `created_at` alone (deals/0014).

The triggers of 0002 and 0003 logged a deal's entry as COALESCE(created_at,
stage_entered_at), so a move of a deal with no creation date logged it as
entering the pipeline at the move. They are put back with the entry as
`created_at`, and the entry they had logged for such deals is taken back
(-1) for the next fold. An ordinary move of an open deal now fires nothing.
"""

import importlib
import re

from django.db import migrations

rollups = importlib.import_module("dealgate.insights.migrations.0002_rollups")
statements = importlib.import_module(
    "dealgate.insights.migrations.0003_statement_triggers"
)

_OLD_ENTRY = re.compile(r"COALESCE\((\w+)\.created_at, \1\.stage_entered_at\)")
_NEW_ENTRY = r"\1.created_at"


def entry(ref: str) -> str:
    """When the deal `ref` entered the pipeline, as the triggers log it."""
    return f"{ref}.created_at"


def entered_values(vendor: str, ref: str, sign: int) -> str:
    """The values of an entered change, as the triggers log them."""
    return _OLD_ENTRY.sub(_NEW_ENTRY, rollups._entered_values(vendor, ref, sign))


def _now(statement: str) -> str:
    return _OLD_ENTRY.sub(_NEW_ENTRY, statement)


def _install(vendor: str, new: bool) -> list[str]:
    fix = _now if new else (lambda statement: statement)
    if vendor == "postgresql":
        function, _, updated = rollups._postgresql()
        return [
            fix(function),
            "DROP TRIGGER IF EXISTS insights_deal_updated ON deals_deal",
            fix(updated),
            *(
                fix(statements._function(name, sign))
                for name, _, _, sign in statements.STATEMENT_TRIGGERS
            ),
        ]
    return [
        *(
            f"DROP TRIGGER IF EXISTS insights_deal_{name}"
            for name in ("inserted", "deleted", "updated")
        ),
        *(fix(statement) for statement in rollups._sqlite()),
    ]


def _retract(vendor: str, sign: int) -> str:
    # Deals the old triggers logged as entered at their stage entry only.
    insert = f"INSERT INTO insights_dealchange ({rollups.CHANGE_COLUMNS}) SELECT"
    return (
        f"{insert} {rollups._entered_values(vendor, 'd', sign)} FROM deals_deal d "
        "WHERE d.created_at IS NULL AND d.stage_entered_at IS NOT NULL"
    )


def forward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in [*_install(vendor, True), _retract(vendor, -1)]:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in [*_install(vendor, False), _retract(vendor, 1)]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0004_insert_log_always"),
        ("deals", "0014_entry_is_creation"),
    ]

    operations = [migrations.RunPython(forward, backward)]
