"""A deal records when it last changed (`updated_at`), for the API's lists
and their `updated_since`.

Deals stored before have it backfilled, in one statement, from what their
rows tell of their changes: the latest of their creation, their entry into
their stage, their close and their latest stage event. A deal's activities
are left out: logging one, or ticking a task, writes no deal row, so they
would not stamp it from now on either. A deal that tells no date at all (an
import whose file gave none) is stamped with the instant of the migration.

The column is added in place (`add_column`), not by Django's AddField: on
SQLite a NOT NULL column makes Django copy the whole table into a new one,
which drops the insights triggers on deals_deal (insights/0002) and costs a
copy of every deal. SQLite keeps the column nullable in its schema; every
writer fills it (dealgate.deals.stamps). PostgreSQL makes it NOT NULL
after the backfill.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

import dealgate.deals.stamps

INSTANT = models.DateTimeField()


def add_column(table: str):
    """The forward and backward steps adding a nullable `updated_at` to
    `table` in place, for a RunPython."""

    def add(apps, schema_editor) -> None:
        quote = schema_editor.quote_name
        kind = INSTANT.db_type(schema_editor.connection)
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD COLUMN {quote('updated_at')} {kind} NULL"
        )

    def drop(apps, schema_editor) -> None:
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} DROP COLUMN {quote('updated_at')}"
        )

    return add, drop


def not_null(table: str):
    """The step making `updated_at` NOT NULL once filled: PostgreSQL only
    (SQLite cannot without copying the table)."""

    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {quote('updated_at')} "
            "SET NOT NULL"
        )

    return run


def backfill(apps, schema_editor) -> None:
    Deal = apps.get_model("deals", "Deal")
    StageEvent = apps.get_model("deals", "StageEvent")
    alias = schema_editor.connection.alias
    latest_event = Subquery(
        StageEvent.objects.using(alias)
        .filter(deal=OuterRef("pk"))
        .order_by("-at")
        .values("at")[:1],
        output_field=INSTANT,
    )
    known = ("created_at", "stage_entered_at", "closed_at", latest_event)
    # Greatest is NULL on SQLite when any part is: each part falls back to
    # the first date the deal has, and the migration's instant when none.
    now = Value(dealgate.deals.stamps.stamp())
    first = Coalesce(*known, now, output_field=INSTANT)
    parts = [Coalesce(part, first, output_field=INSTANT) for part in known]
    Deal.objects.using(alias).update(updated_at=Greatest(*parts, output_field=INSTANT))


class Migration(migrations.Migration):
    dependencies = [("deals", "0017_organization_second_block")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="deal",
                    name="updated_at",
                    field=models.DateTimeField(default=dealgate.deals.stamps.stamp),
                )
            ],
            database_operations=[migrations.RunPython(*add_column("deals_deal"))],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(not_null("deals_deal"), migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["updated_at", "id"], name="deal_updated"),
        ),
        # Its updates stamp, those of a deletion's SET NULL too (stamps.py).
        migrations.AlterModelManagers(
            name="deal",
            managers=[("objects", dealgate.deals.stamps.StampedManager())],
        ),
        migrations.AlterModelOptions(
            name="deal", options={"base_manager_name": "objects"}
        ),
    ]
