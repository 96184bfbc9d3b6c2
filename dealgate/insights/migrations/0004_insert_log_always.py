"""PostgreSQL: the insert log of deals fires in replica mode too.

A large import writes deals with `session_replication_role = replica`, so
that PostgreSQL skips the per-row foreign-key triggers (the importer locks
and checks the keys set-based instead; see dealgate/imports/replica.py).
Replica mode skips ordinary triggers as well; the statement trigger that
logs inserted deals for the rollups (0003) is marked ALWAYS so that it
still runs, over the same transition table, at the same cost.

Outside replica mode nothing changes. A logical-replication subscriber
applying deals_deal inserts will now log them too: replicate the base
tables and let the subscriber build its own insights_dealchange, rather
than replicating that table as well.
"""

from django.db import migrations

TRIGGER = "insights_deals_inserted"


def always(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE deals_deal ENABLE ALWAYS TRIGGER {TRIGGER}")


def ordinary(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE deals_deal ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("insights", "0003_statement_triggers")]

    operations = [migrations.RunPython(always, ordinary)]
