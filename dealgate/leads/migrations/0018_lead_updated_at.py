"""A lead records when it last changed (`updated_at`), for the API's list
and its `updated_since`.

Leads stored before have it backfilled, in one statement, from what their
rows tell of their changes: the latest of their creation, their (latest)
assignment, their first response and their close. Edits of a lead's fields
left no date behind and cannot be told. The column is added in place, as
deals/0018 adds the deals' (no copy of the table on SQLite).
"""

import importlib

from django.db import migrations, models
from django.db.models.functions import Coalesce, Greatest

import dealgate.deals.stamps

deals = importlib.import_module("dealgate.deals.migrations.0018_deal_updated_at")


def backfill(apps, schema_editor) -> None:
    Lead = apps.get_model("leads", "Lead")
    instant = deals.INSTANT
    # Greatest is NULL on SQLite when any part is; created_at never is.
    parts = [
        Coalesce(name, "created_at", output_field=instant)
        for name in ("assigned_at", "first_response_at", "closed_at")
    ]
    Lead.objects.using(schema_editor.connection.alias).update(
        updated_at=Greatest("created_at", *parts, output_field=instant)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0017_api_token_pipeline"),
        ("deals", "0018_deal_updated_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="lead",
                    name="updated_at",
                    field=models.DateTimeField(default=dealgate.deals.stamps.stamp),
                )
            ],
            database_operations=[migrations.RunPython(*deals.add_column("leads_lead"))],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(deals.not_null("leads_lead"), migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["updated_at", "id"], name="lead_updated"),
        ),
        # Its updates stamp, those of a deletion's SET NULL too (stamps.py).
        migrations.AlterModelManagers(
            name="lead",
            managers=[("objects", dealgate.deals.stamps.StampedManager())],
        ),
        migrations.AlterModelOptions(
            name="lead", options={"base_manager_name": "objects"}
        ),
    ]
