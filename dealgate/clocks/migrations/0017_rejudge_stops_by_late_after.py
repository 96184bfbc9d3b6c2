"""Re-judge the stops given before `clocks 0012` by the rule kept since: a
clock stopped at or before its `late_after` was on time.

Before 0012 a stop was late as soon as it came after the due time, so a
stop first thing at the opening after a due time at closing (due Wednesday
at 17:00, answered or moved on Thursday at 09:00), or in the closed hours
between, ended the clock breached and put right at that instant, and the
insights count it missed; the same stop now ends it met or cancelled.

What changes: every clock breached and put right at the very instant it
ended (`resolved_at` = `ended_at`, the mark of a late stop: a breach by the
sweeper is put right later, if at all) that ended after its due time but
at or before its `late_after`. No rule since writes such a row, so the
migration changes only what the old rule got wrong, and running it again
changes nothing. Each is ended as a stop in time ends it
(`clocks.services`), read from the note that stop wrote:

- met for an answer ("answered", "answered by call 12"), a task done
  ("task done", "handed on to deal 7"), a conversion ("converted into a
  deal") or a win ("deal won");
- for "left the stage", met when the stage event at that instant took the
  deal to a later stage, cancelled when to an earlier one;
- cancelled for any other stop (a loss, a lead disqualified or merged, a
  restart, a limit or window taken away).

Its `ended_at` and note stay; `resolved_at` is cleared (a met or cancelled
clock was never breached) and `at_risk` stays off. Left as they are: a
"left the stage" stop whose stage event is gone (its direction is unknown),
and clocks the sweeper breached in those closed hours before 0012 (their
owners were told, and the row does not say what ended them). Reversing
leaves the rows as they are.
"""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery

# The notes of the stops that meet a clock (an answer, a task done or handed
# on, a conversion, a win): as `clocks.services` writes them.
MET_NOTES = ("answered", "task done", "converted into a deal", "deal won")
MET_PREFIXES = ("answered by ", "handed on to deal ")
LEFT = "left the stage"
BATCH = 500


def rejudge(apps, schema_editor) -> None:
    Clock = apps.get_model("clocks", "Clock")
    met, cancelled = [], []
    for row in _misjudged(apps).iterator(chunk_size=BATCH):
        state = _state(row)
        if state == "met":
            met.append(row["id"])
        elif state == "cancelled":
            cancelled.append(row["id"])
    for state, ids in (("met", met), ("cancelled", cancelled)):
        for start in range(0, len(ids), BATCH):
            Clock.objects.filter(
                pk__in=ids[start : start + BATCH], state="breached"
            ).update(state=state, resolved_at=None, at_risk=False)


def _misjudged(apps):
    """The late stops of the old rule that the stored `late_after` finds on
    time, with what `_state` needs to decide how they end."""
    Clock = apps.get_model("clocks", "Clock")
    StageEvent = apps.get_model("deals", "StageEvent")
    move = StageEvent.objects.filter(
        deal_id=OuterRef("deal_id"),
        from_stage_id=OuterRef("stage_id"),
        from_status="open",
        at=OuterRef("ended_at"),
    ).order_by("pk")
    return (
        Clock.objects.filter(
            state="breached",
            ended_at__isnull=False,
            resolved_at=F("ended_at"),
            ended_at__gt=F("due_at"),
            ended_at__lte=F("late_after"),
        )
        .annotate(
            moved_to=Subquery(move.values("to_status")[:1]),
            moved_to_position=Subquery(move.values("to_stage__position")[:1]),
        )
        .values("id", "note", "stage__position", "moved_to", "moved_to_position")
        .order_by("pk")
    )


def _state(row: dict) -> str | None:
    """How a stop in time ends the clock of `row`: "met", "cancelled", or
    None when that cannot be told (a move whose stage event is gone)."""
    note = row["note"]
    if note in MET_NOTES or note.startswith(MET_PREFIXES):
        return "met"
    if note != LEFT:
        return "cancelled"
    if row["moved_to"] != "open" or row["stage__position"] is None:
        return None
    position = row["moved_to_position"]
    forward = position is not None and position > row["stage__position"]
    return "met" if forward else "cancelled"


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0016_reassignment"),
        ("deals", "0018_deal_updated_at"),
    ]

    operations = [migrations.RunPython(rejudge, migrations.RunPython.noop)]
