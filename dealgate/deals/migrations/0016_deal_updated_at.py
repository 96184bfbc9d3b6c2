"""A deal records when it last changed (`updated_at`), for the API's lists
and their `updated_since`.

Deals stored before have it backfilled, in one statement, from what their
rows tell of their changes: the latest of their creation, their entry into
their stage, their close and their latest stage event. A deal's activities
are left out: logging one, or ticking a task, writes no deal row, so they
would not stamp it from now on either. A deal that tells no date at all (an
import whose file gave none) is stamped with the instant of the migration.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

import dealgate.deals.stamps


def backfill(apps, schema_editor):
    Deal = apps.get_model("deals", "Deal")
    StageEvent = apps.get_model("deals", "StageEvent")
    alias = schema_editor.connection.alias
    instant = models.DateTimeField()
    latest_event = Subquery(
        StageEvent.objects.using(alias)
        .filter(deal=OuterRef("pk"))
        .order_by("-at")
        .values("at")[:1],
        output_field=instant,
    )
    known = ("created_at", "stage_entered_at", "closed_at", latest_event)
    # Greatest is NULL on SQLite when any part is: each part falls back to
    # the first date the deal has, and the migration's instant when none.
    first = Coalesce(*known, Value(dealgate.deals.stamps.stamp()), output_field=instant)
    parts = [Coalesce(part, first, output_field=instant) for part in known]
    Deal.objects.using(alias).update(updated_at=Greatest(*parts, output_field=instant))


class Migration(migrations.Migration):
    dependencies = [("deals", "0015_system_activities")]

    operations = [
        migrations.AddField(
            model_name="deal",
            name="updated_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="deal",
            name="updated_at",
            field=models.DateTimeField(default=dealgate.deals.stamps.stamp),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["updated_at", "id"], name="deal_updated"),
        ),
    ]
