"""Follow-ups: a second inquiry attached to an open lead or deal (`dedup.attach`).

A buyer who writes again ("still waiting, please call") must reach the owner
as a first inquiry does, and what it asks of them depends on where the lead
stands:

- The owner is told at once through every channel a notice takes
  (`clocks.notices.notify`: /notices/, mail and the webhook when they are
  set up), with what the buyer wrote.
- A lead still waiting for its first answer keeps its response window: the
  buyer has waited since the first inquiry, and the response time counts
  from then (docs/leads.md, "Response time is the buyer's wait").
- An answered lead or an open deal owes the buyer a new answer: a task
  "Answer the follow-up" for the owner, due one window for a new lead after
  the follow-up came, with its next-step clock (the sweep acts on it as on
  any missed next step). While such a task is still open, a further
  follow-up adds none: the buyer is chasing the question already asked.

Imports attach in-app only: a file of old inquiries is no buyer writing now.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dealgate.accounts.models import User
from dealgate.clocks import bulk
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.notices import notice_time, notify, subject_url
from dealgate.clocks.services import lead_key
from dealgate.clocks.sweep import lead_task_key
from dealgate.clocks.timeleft import format_span
from dealgate.core import business_time
from dealgate.core.text import cut
from dealgate.deals.models import Activity, Deal
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline

from . import assign
from .models import DedupDecision, Lead, LeadActivity

log = logging.getLogger("dealgate.leads")

# The tag of a deal's follow-up task, and the key in a lead task's data.
TAG = "follow-up"
TASK_SUBJECT = "Answer the follow-up from {}"


def deliver(
    pipeline: Pipeline,
    owner: User,
    *,
    lead: Lead | None,
    deal: Deal | None,
    who: str,
    contact: str,
    says: str,
    decision_id: int,
    now: dt.datetime,
    offering: str = "",
    unowned: str = "",
    owed: str = "",
    data: dict[str, Any] | None = None,
) -> str:
    """Tell `owner` of a follow-up from `who` (name and company) saying
    `says`, on `lead` or `deal`, and start the answer it is owed (a task
    `withdraw` finds by `decision_id`, the attachment's). Who they are and
    what they gave, the unchecked phone and website said to be so
    (`contact`), and the fields it offers the lead (`offering`, as its note
    says) are in the notice's body only: its title is logged. A lead or deal
    nobody owns tells `owner`, who takes its inquiries in meanwhile, why they
    are told (`unowned`). Returns what it asks of the owner, in words (the
    notice's last paragraph); `owed`, what an earlier call returned for
    another person told of the same follow-up, is said again instead, so
    that the first told starts the answer and no second task is made.
    `data` goes with the notice to the webhook (`dedup.inquiry_data`)."""
    unanswered = (Lead.Status.NEW, Lead.Status.ASSIGNED)
    if not owed and lead is not None and lead.status in unanswered:
        owed = _still_unanswered(pipeline, lead, now)
    elif not owed:
        owed = _answer_owed(pipeline, owner, lead, deal, who, decision_id, now)
    what = f"lead {lead.label}" if lead is not None else f"deal {deal.title}"
    if unowned:
        act = "Route it or take it" if lead is not None else "Give it an owner"
        unowned = f"{unowned[0].upper()}{unowned[1:]}. {act}."
    notify(
        owner,
        kind=Notice.Kind.INFO,
        title=f"Follow-up from {who} on {what}",
        body="\n\n".join(
            part for part in (contact, says, offering, unowned, owed) if part
        ),
        url=subject_url(deal.pk if deal else None, lead.pk if lead else None),
        lead_id=lead.pk if lead is not None else None,
        deal_id=deal.pk if deal is not None else None,
        at=now,
        data=data,
    )
    return owed


def _still_unanswered(pipeline: Pipeline, lead: Lead, now: dt.datetime) -> str:
    """The window still owed, in words: due when the lead's own due time
    says, or, for a lead waiting for an owner (which has none), its
    response clock; one that ran out before `now` is said to have."""
    due = lead.response_due_at
    if due is None:
        due = (
            Clock.objects.filter(
                lead=lead,
                key=lead_key(lead.pk),
                state__in=(Clock.State.RUNNING, Clock.State.BREACHED),
            )
            .values_list("due_at", flat=True)
            .first()
        )
    if due is None:
        return "Not answered yet; its window runs from the first inquiry."
    if now < due:
        return (
            "Not answered yet; its window runs from the first inquiry, "
            f"due {_when(pipeline, due)}."
        )
    return (
        "Not answered yet; its window ran from the first inquiry and "
        f"{_ran_out(pipeline, due, now)}."
    )


def _answer_owed(
    pipeline: Pipeline,
    owner: User,
    lead: Lead | None,
    deal: Deal | None,
    who: str,
    decision_id: int,
    now: dt.datetime,
) -> str:
    """The open follow-up task's due time in words, or a new task's."""
    waiting = _open_task(lead, deal)
    if waiting is not None:
        if now < waiting:
            earlier = _when(pipeline, waiting)
            return f"The task to answer their earlier follow-up is due {earlier}."
        late = _ran_out(pipeline, waiting, now)
        return f"The task to answer their earlier follow-up {late}."
    due = assign.due_at(pipeline, now)
    subject = cut(TASK_SUBJECT.format(who), 300)
    if deal is not None:
        # Its next-step clock starts with it (clocks.signals).
        Activity.objects.create(
            deal=deal,
            kind=Activity.Kind.TASK,
            subject=subject,
            tag=TAG,
            due_at=due,
            at=now,
        )
    else:
        _lead_task(pipeline, owner, lead, subject, due, decision_id, now)
    where = f"lead {lead.pk}" if lead is not None else f"deal {deal.pk}"
    log.info("follow-up on %s: task for %s due %s", where, owner.username, due)
    return f"A task to answer it is due {_when(pipeline, due)}."


def _open_task(lead: Lead | None, deal: Deal | None) -> dt.datetime | None:
    """The due time of an open follow-up task on the lead or deal, if any."""
    if deal is not None:
        tasks = Activity.objects.filter(
            deal=deal, kind=Activity.Kind.TASK, tag=TAG, done=False
        )
    else:
        tasks = LeadActivity.objects.filter(
            lead=lead, kind=LeadActivity.Kind.TASK, done=False, data__has_key=TAG
        )
    return tasks.order_by("due_at").values_list("due_at", flat=True).first()


def _lead_task(
    pipeline: Pipeline,
    owner: User,
    lead: Lead,
    subject: str,
    due: dt.datetime,
    decision_id: int,
    now: dt.datetime,
) -> None:
    """A follow-up task on the lead with its next-step clock, as the sweep
    writes a lead's follow-up task after a breach."""
    task = LeadActivity.objects.create(
        lead=lead,
        kind=LeadActivity.Kind.TASK,
        subject=subject,
        data={TAG: decision_id},
        due_at=due,
        at=now,
    )
    bulk.insert_unless_taken(
        Clock(
            kind=Clock.Kind.NEXT_STEP,
            key=lead_task_key(task.pk),
            pipeline=pipeline,
            lead=lead,
            lead_task=task,
            responsible_id=owner.pk,
            started_at=now,
            due_at=due,
            late_after=business_time.next_opening(calendar_for(pipeline), due),
            window_minutes=business_time.between(calendar_for(pipeline), now, due),
        )
    )


def withdraw(decision: DedupDecision) -> int:
    """Remove the follow-up task an attachment made, when it is still open
    (a split undoes the attachment: the inquiry is a lead of its own, with
    its own window); its clock goes with it. Returns the tasks removed."""
    if decision.lead_id is not None:
        tasks = LeadActivity.objects.filter(
            lead_id=decision.lead_id,
            kind=LeadActivity.Kind.TASK,
            done=False,
            **{f"data__{TAG}": decision.pk},
        )
    else:
        # A deal's activity keeps no data: its task is the one made with
        # the decision, at its time.
        tasks = Activity.objects.filter(
            deal_id=decision.deal_id,
            kind=Activity.Kind.TASK,
            tag=TAG,
            done=False,
            at=decision.at,
        )
    removed, _ = tasks.delete()
    return removed


def _when(pipeline: Pipeline, at: dt.datetime) -> str:
    """`at` in the pipeline's zone, as every notice says a time."""
    return notice_time(at, calendar_for(pipeline).timezone)


def _ran_out(pipeline: Pipeline, due: dt.datetime, now: dt.datetime) -> str:
    """A due time already past at `now`, in words: when it ran out and, once
    a business minute has passed since, by how much business time, as Today
    says a span (`format_span`): "ran out Mon 08 Jun 09:00 (Europe/Berlin),
    5 business days overdue"."""
    said = f"ran out {_when(pipeline, due)}"
    calendar = calendar_for(pipeline)
    over = business_time.between(calendar, due, now)
    if over < 1:
        return said
    return f"{said}, {format_span(over, calendar.day_minutes)} overdue"
