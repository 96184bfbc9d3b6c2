"""Clocks a sweep stopped as met or cancelled, at its own time, because it
found their deal or lead changed behind its back: date each stop by the
event that really ended it, and re-label breached (put right then) those
whose event came after their due time, as the sweep now does itself
(dealgate.clocks.sweep, `_Batch._plan_stop`).

A candidate is a met or cancelled clock stopped after its due time under a
note a sweep writes: "left the stage", "deal won" or "deal lost",
"answered", "task done", "lead <status>", "reassigned". Its end is the
first event since it started that the history keeps: the deal's move out
of the clock's stage, its close (or its close date), its first done call,
email or meeting, the task's done time, the lead's first response, close
date or next assignment. Kept between the clock's start and the stop the
row records. A row whose history keeps no such time is left as it is.

An ordinary stop with one of these notes (a lead's answer or
reassignment, a task done) already carries its event's time, so dating it
again changes nothing, and migration 0010 re-labelled those that came
late. Reversing this migration leaves the rows as they are.
"""

import datetime as dt
from typing import Any

from django.db import migrations
from django.db.models import F, OuterRef, Q, Subquery

RESPONSE_KINDS = ("call", "email", "meeting")
CLOSED_LEAD = ("converted", "disqualified", "merged", "archived")
BATCH = 500


def redate(apps, schema_editor) -> None:
    Clock = apps.get_model("clocks", "Clock")
    found = _candidates(apps).values(
        "id",
        "kind",
        "note",
        "deal_id",
        "started_at",
        "due_at",
        "ended_at",
        "left",
        "closed",
        "answered",
        "reassigned",
        "deal_closed",
        "task_done",
        "lead_task_done",
        "lead_answered",
        "lead_closed",
        "lead_assigned",
    )
    late, in_time = [], []
    for row in found.iterator(chunk_size=BATCH):
        at = _ended(row)
        if at is None:
            continue
        at = min(max(at, row["started_at"]), row["ended_at"])
        if at > row["due_at"]:
            late.append(
                Clock(pk=row["id"], state="breached", ended_at=at, resolved_at=at)
            )
        elif at != row["ended_at"]:
            in_time.append(Clock(pk=row["id"], ended_at=at))
    # A met or cancelled clock is never at risk: breached and put right at
    # once, it stays so.
    fields = ["state", "ended_at", "resolved_at"]
    Clock.objects.bulk_update(late, fields, batch_size=BATCH)
    Clock.objects.bulk_update(in_time, ["ended_at"], batch_size=BATCH)


def _candidates(apps):
    Clock = apps.get_model("clocks", "Clock")
    StageEvent = apps.get_model("deals", "StageEvent")
    Activity = apps.get_model("deals", "Activity")
    LeadAssignment = apps.get_model("leads", "LeadAssignment")

    def first(events, after: str = "gte") -> Subquery:
        since = {f"at__{after}": OuterRef("started_at")}
        return Subquery(events.filter(**since).order_by("at").values("at")[:1])

    exits = StageEvent.objects.filter(deal_id=OuterRef("deal_id"), from_status="open")
    swept = (
        Q(note__in=("left the stage", "answered", "task done", "reassigned"))
        | Q(note__startswith="deal ")
        | Q(note__startswith="lead ")
    )
    return Clock.objects.filter(
        swept,
        state__in=("met", "cancelled"),
        ended_at__isnull=False,
        due_at__lt=F("ended_at"),
    ).annotate(
        left=first(exits.filter(from_stage_id=OuterRef("stage_id"))),
        closed=first(exits.filter(to_status__in=("won", "lost"))),
        answered=first(
            Activity.objects.filter(
                deal_id=OuterRef("deal_id"), kind__in=RESPONSE_KINDS, done=True
            )
        ),
        reassigned=first(
            LeadAssignment.objects.filter(lead_id=OuterRef("lead_id")), "gt"
        ),
        deal_closed=F("deal__closed_at"),
        task_done=F("activity__done_at"),
        lead_task_done=F("lead_task__done_at"),
        lead_answered=F("lead__first_response_at"),
        lead_closed=F("lead__closed_at"),
        lead_assigned=F("lead__assigned_at"),
    )


def _ended(row: dict[str, Any]) -> dt.datetime | None:
    """When the obligation of a swept clock ended, as the sweep now finds it
    (`_Batch._verdict`), or None when the history keeps no time."""
    note, kind = row["note"], row["kind"]
    if row["deal_id"] is not None:
        stage_bound = kind in ("age", "response")
        if note.startswith("deal "):
            left = row["left"] if stage_bound else None
            return left or row["closed"] or row["deal_closed"]
        if note == "left the stage" and stage_bound:
            return row["left"]
        if note == "answered" and kind == "response":
            return row["answered"]
        if note == "task done" and kind == "next_step":
            return row["task_done"]
        return None
    if kind == "next_step":
        if note == "task done":
            return row["lead_task_done"]
        return row["lead_closed"] if note.startswith("lead ") else None
    if note == "answered":
        return row["lead_answered"]
    reassigned = row["reassigned"]
    assigned = row["lead_assigned"]
    if reassigned is None and assigned and assigned > row["started_at"]:
        reassigned = assigned
    if note in ("reassigned", "lead new"):
        return reassigned
    if note.startswith("lead ") and note[len("lead ") :] in CLOSED_LEAD:
        return row["lead_closed"]
    return None


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0010_late_stops_breached"),
        ("deals", "0014_entry_is_creation"),
        ("leads", "0012_api_token_scope"),
    ]

    operations = [migrations.RunPython(redate, migrations.RunPython.noop)]
