"""PostgreSQL: deals inserted or deleted are logged once per statement.

A row trigger runs its function once per deal; an import of 100,000 deals
paid about a second of server time for it. A statement trigger with a
transition table appends the changes of every row of an INSERT (COPY
included) or DELETE in two set-based statements. Updates keep the row
trigger of 0002, whose WHEN clause spares ordinary moves any call. SQLite
has no statement triggers and keeps its row triggers.
"""

import importlib

from django.db import migrations

rollups = importlib.import_module("dealgate.insights.migrations.0002_rollups")

# trigger, function, transition table, sign of the rows it logs
STATEMENT_TRIGGERS = (
    ("insights_deals_inserted", "INSERT", "NEW TABLE AS changed_deals", 1),
    ("insights_deals_deleted", "DELETE", "OLD TABLE AS changed_deals", -1),
)


def _function(name: str, sign: int) -> str:
    insert = f"INSERT INTO insights_dealchange ({rollups.CHANGE_COLUMNS}) SELECT"
    closed = rollups._closed_values("postgresql", "d", sign)
    entered = rollups._entered_values("postgresql", "d", sign)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {insert} {closed} FROM changed_deals d WHERE {rollups._closed("d")};
    {insert} {entered} FROM changed_deals d WHERE {rollups._entry("d")} IS NOT NULL;
    RETURN NULL;
END
$$"""


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS insights_deal_written ON deals_deal")
    for name, event, transition, sign in STATEMENT_TRIGGERS:
        schema_editor.execute(_function(name, sign), params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON deals_deal "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def uninstall(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, *_ in STATEMENT_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON deals_deal")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
    schema_editor.execute(
        "CREATE TRIGGER insights_deal_written AFTER INSERT OR DELETE ON deals_deal "
        "FOR EACH ROW EXECUTE FUNCTION insights_deal_changed()"
    )


class Migration(migrations.Migration):
    dependencies = [("insights", "0002_rollups")]

    operations = [migrations.RunPython(install, uninstall)]
