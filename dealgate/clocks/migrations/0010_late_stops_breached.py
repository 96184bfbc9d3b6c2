"""Clocks stored as met or cancelled although they stopped after their due
time were missed: re-label them breached, put right when they stopped.

Only where the row says unambiguously that the stop came late, because its
`ended_at` is the time of the event that stopped it:

- a deal's age clock or response window ended by a move or close of the
  deal out of the clock's stage (a stage event at that very instant);
- a deal's response window met by a logged call, email or meeting (its
  note names the activity, whose time is `ended_at`);
- a lead's response window met by its first response (`first_response_at`)
  or by its conversion ("converted into a deal");
- a deal's next step met by its task done at `done_at`.

A clock a sweep stopped because its deal or lead had changed behind its
back carries the sweep's time, not the event's, and is left as it is; so
are cancellations at a reassignment or restart, whose time the row does
not keep. Reversing this migration leaves the labels as they are.
"""

from django.db import migrations
from django.db.models import Exists, F, OuterRef, Q


def relabel(apps, schema_editor) -> None:
    Clock = apps.get_model("clocks", "Clock")
    StageEvent = apps.get_model("deals", "StageEvent")
    Activity = apps.get_model("deals", "Activity")
    Lead = apps.get_model("leads", "Lead")
    late = Clock.objects.filter(
        state__in=("met", "cancelled"), ended_at__isnull=False, due_at__lt=F("ended_at")
    )
    left_stage = StageEvent.objects.filter(
        deal_id=OuterRef("deal_id"),
        from_stage_id=OuterRef("stage_id"),
        from_status="open",
        at=OuterRef("ended_at"),
    )
    answered = Lead.objects.filter(
        pk=OuterRef("lead_id"), first_response_at=OuterRef("ended_at")
    )
    task_done = Activity.objects.filter(
        pk=OuterRef("activity_id"), done=True, done_at=OuterRef("ended_at")
    )
    stage_clocks = Q(deal__isnull=False, kind__in=("age", "response"))
    lead_window = Q(lead__isnull=False, kind="response")
    told = (
        (stage_clocks & Q(Exists(left_stage)))
        | Q(deal__isnull=False, kind="response", note__startswith="answered by ")
        | (lead_window & Q(note="answered") & Q(Exists(answered)))
        | (lead_window & Q(note="converted into a deal"))
        | (Q(kind="next_step", note="task done") & Q(Exists(task_done)))
    )
    ids = list(late.filter(told).values_list("pk", flat=True))
    for start in range(0, len(ids), 1000):
        Clock.objects.filter(pk__in=ids[start : start + 1000]).update(
            state="breached", resolved_at=F("ended_at"), at_risk=False
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0009_delivery_plural"),
        ("deals", "0014_entry_is_creation"),
        ("leads", "0011_company_keys_without_invisibles"),
    ]

    operations = [migrations.RunPython(relabel, migrations.RunPython.noop)]
