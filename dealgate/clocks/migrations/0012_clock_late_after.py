"""Clocks are late only once business time has passed beyond their due time:
each clock gets `late_after`, the first working instant at or after its due
time in its pipeline's calendar (`business_time.next_opening`), and every
verdict compares with it. A limit that ends at closing is late after the
next opening, not at closing.

Every clock is given its `late_after` by its pipeline's calendar as stored
now. A second window not yet escalated gets the same treatment: its
`escalate_at` at closing moves to the next opening, so it escalates only once
business time has passed beyond it. `clocks 0013` then makes the column
required and moves the sweep's partial index `clock_due` from `due_at` to
`late_after`, in a transaction of its own (on PostgreSQL a table is not
altered in the transaction that updated its rows).

Verdicts already given stay as they are: a stop that a move made at an
opening right after a due time at closing, ended breached before this
migration, keeps its breach (docs/clocks.md, "Known limits"). Reversing
drops the column.
"""

from django.db import migrations, models
from django.db.models import F

from dealgate.core import business_time
from dealgate.pipelines.calendars import calendar_for

BATCH = 1_000


def backfill(apps, schema_editor) -> None:
    Clock = apps.get_model("clocks", "Clock")
    Pipeline = apps.get_model("pipelines", "Pipeline")
    Clock.objects.update(late_after=F("due_at"))
    for pipeline in Pipeline.objects.all():
        # calendar_for reads the pipeline's `calendar` table alone.
        calendar = calendar_for(pipeline)
        clocks = Clock.objects.filter(pipeline_id=pipeline.pk)
        _move(Clock, "late_after", calendar, clocks.values_list("pk", "due_at"))
        pending = clocks.filter(
            state="breached",
            escalate_at__isnull=False,
            escalated_at=None,
            resolved_at=None,
        )
        _move(Clock, "escalate_at", calendar, pending.values_list("pk", "escalate_at"))


def _move(Clock, column: str, calendar, rows) -> None:
    """Set `column` to the next opening at or after each row's instant, where
    that differs (an instant in closed hours)."""
    changed = []
    for pk, at in rows.iterator(chunk_size=BATCH):
        late = business_time.next_opening(calendar, at)
        if late != at:
            changed.append(Clock(pk=pk, **{column: late}))
    # Written once read: no UPDATE while the rows are still being read.
    Clock.objects.bulk_update(changed, [column], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0011_sweep_stops_dated"),
        ("pipelines", "0004_stage_replaced_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="clock",
            name="late_after",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
