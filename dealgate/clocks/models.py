"""Clocks (obligations with a due time), notices, and the outbox that mails them.

A clock is a row, never a timer in memory: events start and stop it
(dealgate.clocks.services) and the sweeper acts when one runs out
(dealgate.clocks.sweep). A notice is shown in the web and, through one
`Delivery` row per channel, sent by email and to a webhook with retries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# Entries of a digest a notice keeps, and the notices page and messages show:
# the first ones, which the sweep wrote most overdue first. The rest are only
# counted (`Notice.more_items`); Today lists them all. A digest of 50,000
# clocks after an import would otherwise be a row of megabytes, and chat
# webhooks cut long messages (Slack at 40,000 characters).
DIGEST_LINES = 50


class Clock(models.Model):
    """One obligation: who must do what about which deal or lead, by when.

    `key` names the obligation ("deal:12:age", "lead:5:response",
    "activity:9:next_step"); at most one clock per key is open (running, or
    breached and not put right) at a time, so starting one twice is harmless.
    `due_at` is computed once, in business time of the pipeline's calendar,
    when the clock starts. `late_after` is the first working instant at or
    after it (`business_time.next_opening`): a clock is late only once
    business time has passed beyond its due time, so every verdict (a stop,
    the sweep's breach, an "overdue" mark) compares with `late_after` as it
    compared with `due_at` before, and a limit that ends at closing is kept
    by an action first thing next morning.

    A breached clock may run a second window: `escalate_at` is when it ends,
    as a late-after instant (the first working instant at or after the
    window's end), and once business time passes beyond it its owner's
    manager is told (or the work reassigned) unless it is put right first;
    `escalated_at` says that happened.
    """

    class Kind(models.TextChoices):
        RESPONSE = "response", "Response window"
        AGE = "age", "Stage age limit"
        NEXT_STEP = "next_step", "Next step due"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        MET = "met", "Met"
        BREACHED = "breached", "Breached"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.RUNNING
    )
    key = models.CharField(max_length=80)
    # Pipeline, stage and handoff are looked up from the clock, never the
    # other way round, so they carry no index: every index costs the sweep
    # and the start of a clock a write.
    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clocks",
        db_index=False,  # clock_deal below
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clocks",
        db_index=False,  # (lead, state) below serves lookups by lead
    )
    stage = models.ForeignKey(
        "pipelines.Stage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    handoff = models.ForeignKey(
        "pipelines.Handoff",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # The task of a next-step clock: a deal's activity, or a lead's.
    activity = models.ForeignKey(
        "deals.Activity",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # partial index below
    )
    lead_task = models.ForeignKey(
        "leads.LeadActivity",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # partial index below
    )
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clocks",
        db_index=False,  # (responsible, state, due_at) below
    )
    # Business minutes from start to due: what "one more window" means.
    window_minutes = models.FloatField()
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    # `due_at`, or the next opening when that is in closed hours: a stop up to
    # it is on time, a later one late; likewise the sweep breaches only after
    # it. Written with `due_at` wherever that is written.
    late_after = models.DateTimeField()
    # When it stopped running: met, cancelled, or breached by the sweeper.
    ended_at = models.DateTimeField(null=True, blank=True)
    # A breached clock keeps its deal or lead at risk until it is put right
    # (the deal leaves the stage, the lead is answered, the task is done).
    at_risk = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The obligation still stands: running, or breached and not put right.
    # Kept as a column of its own (a check below keeps it true to the state)
    # because a breach leaves it alone: on SQLite an index whose condition
    # names a column the UPDATE sets is rewritten, one page per breach.
    is_open = models.BooleanField(default=True, db_default=True)
    # The second window: set on breach when the rules escalate or reassign.
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # What the sweeper did on breach, comma-separated (rules.ACTIONS), or why
    # the clock stopped ("left the stage", "deal won").
    actions = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # The sweep reads only running clocks that are due: a partial index
            # keeps its cost proportional to those, not to all clocks.
            models.Index(
                fields=["late_after"], condition=Q(state="running"), name="clock_due"
            ),
            # By deal alone: a deal has a few clocks, and leaving the state out
            # spares this index a write when the sweep breaches a clock.
            models.Index(fields=["deal"], name="clock_deal"),
            # Most clocks have no lead or task: indexing only the rows
            # that do spares every sweep and start those index writes.
            models.Index(
                fields=["lead", "state"],
                condition=Q(lead__isnull=False),
                name="clock_lead_state",
            ),
            models.Index(
                fields=["activity"],
                condition=Q(activity__isnull=False),
                name="clock_activity",
            ),
            models.Index(
                fields=["lead_task"],
                condition=Q(lead_task__isnull=False),
                name="clock_lead_task",
            ),
            # Breached clocks waiting for their second window, likewise.
            models.Index(
                fields=["escalate_at"],
                condition=Q(state="breached", escalated_at=None, resolved_at=None)
                & Q(escalate_at__isnull=False),
                name="clock_escalation_due",
            ),
            # Today's clocks of a person. With the due time last, a sweep's
            # breaches leave and join each person's range at its due end (the
            # earliest running, the latest breached) instead of one page per
            # clock by id: SQLite's spread sweep wrote 43,000 log pages with
            # (responsible, state) and 18,000 with this.
            models.Index(
                fields=["responsible", "state", "due_at"],
                name="clock_responsible_due",
            ),
        ]
        constraints = [
            # One open obligation per key: a clock started again ends the
            # one before, breached or not.
            models.UniqueConstraint(
                fields=["key"], condition=Q(is_open=True), name="clock_one_open_per_key"
            ),
            models.CheckConstraint(
                condition=Q(is_open=True, state="running", resolved_at__isnull=True)
                | Q(is_open=True, state="breached", resolved_at__isnull=True)
                | Q(is_open=False, state__in=["met", "cancelled"])
                | Q(is_open=False, state="breached", resolved_at__isnull=False),
                name="clock_open_matches_state",
            ),
            models.CheckConstraint(
                condition=Q(deal__isnull=False) | Q(lead__isnull=False),
                name="clock_has_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"clock {self.pk} ({self.key}, {self.state})"

    @property
    def subject_label(self) -> str:
        if self.deal_id is not None:
            return self.deal.title
        return self.lead.label


class Reassignment(models.Model):
    """One deal or lead the sweep took from a person and gave to another,
    when a clock of theirs and its second window ran out (`reassign`).

    Kept for good, whatever becomes of the clock: every later reassignment
    the sweep makes of that deal or lead passes over everyone it was taken
    from (`taken_from`), so it never goes back to them by a later decision,
    also once the clock that moved it is closed and another one runs out. A
    person handing it back by hand is their own choice, and allowed.
    """

    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # partial indexes below
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # The clock whose second window ran out; gone when the clock is.
    clock = models.ForeignKey(
        Clock, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # No database constraint: its check would lock the person's row (FOR KEY
    # SHARE) while the sweep holds their deal, and a deactivation holding
    # that row waits for the deal it hands over (accounts.handover.hold).
    taken_from = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    given_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["deal"],
                condition=Q(deal__isnull=False),
                name="reassignment_deal",
            ),
            models.Index(
                fields=["lead"],
                condition=Q(lead__isnull=False),
                name="reassignment_lead",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(deal__isnull=False, lead__isnull=True)
                | Q(deal__isnull=True, lead__isnull=False),
                name="reassignment_one_subject",
            ),
        ]

    def __str__(self) -> str:
        subject = f"deal {self.deal_id}" if self.deal_id else f"lead {self.lead_id}"
        return f"{subject}: user {self.taken_from_id} to {self.given_to_id}"


class Notice(models.Model):
    """A message to one person, shown on /notices/ until read and delivered
    by email and webhook through its `Delivery` rows."""

    class Kind(models.TextChoices):
        BREACH = "breach", "Ran out"
        ESCALATION = "escalation", "Escalated"
        REASSIGNED = "reassigned", "Reassigned"
        TASK = "task", "Task"
        INFO = "info", "Information"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices",
        db_index=False,  # the indexes below start with user
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    # A path on this site ("/deals/12/"); mails prefix DEALGATE_SITE_URL.
    url = models.CharField(max_length=300, blank=True)
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # partial indexes below, for these three
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    clock = models.ForeignKey(
        Clock,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
        db_index=False,
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # A digest: several clocks that ran out for one person in one sweep, told
    # in one notice instead of one each, one {"clock", "title", "url", "deal",
    # "lead"} per clock: the first DIGEST_LINES of them, and how many more in
    # `more_items` (a digest written before that was counted keeps them all).
    # Empty for a notice about one subject (deal, lead, clock above).
    items = models.JSONField(default=list, blank=True)
    more_items = models.PositiveIntegerField(default=0, db_default=0)
    # What a program receiving the webhook reads beside the text, under
    # "dealgate" (dealgate.clocks.outbox): for a follow-up, {"inquiry": ...}
    # telling the values an anonymous inquiry offers from those stored
    # (leads.dedup.inquiry_data). Null for other notices: the sweep writes
    # its notices in raw SQL that names no such column.
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notice_user_recent"),
            models.Index(
                fields=["user"], condition=Q(read_at=None), name="notice_user_unread"
            ),
            models.Index(
                fields=["deal"], condition=Q(deal__isnull=False), name="notice_deal"
            ),
            models.Index(
                fields=["lead"], condition=Q(lead__isnull=False), name="notice_lead"
            ),
            models.Index(
                fields=["clock"], condition=Q(clock__isnull=False), name="notice_clock"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def clock_ids(self) -> list[int]:
        """The clocks this notice names: a digest's entries kept, or its own
        one. A digest names only its first entries (`told` counts them all)."""
        if self.items:
            return [item["clock"] for item in self.items]
        return [self.clock_id] if self.clock_id is not None else []

    @property
    def told(self) -> int:
        """How many clocks this notice tells about, those only counted too."""
        return len(self.clock_ids) + self.more_items

    @property
    def shown_items(self) -> list[dict]:
        """A digest's entries as pages and messages list them: the first
        DIGEST_LINES (an older digest keeps more)."""
        return self.items[:DIGEST_LINES]

    @property
    def items_not_shown(self) -> int:
        """How many of a digest's entries are not listed: counted only, or
        kept past DIGEST_LINES by an older digest."""
        return max(0, len(self.items) - DIGEST_LINES) + self.more_items


class Delivery(models.Model):
    """One notice on its way through one channel: the outbox row.

    A sender leases a pending row (pushes `next_attempt_at` past its send),
    sends, and marks it sent in a transaction of its own; a failure puts the
    next attempt further off (back-off). Rows are never dropped for a
    transient failure, so a dead server delays notices but loses none.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        # Refused for good (an address the server will never take); an ERROR
        # in the log says so, since a person must act.
        FAILED = "failed", "Failed"

    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "channel"], name="delivery_one_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"notice {self.notice_id} by {self.channel} ({self.state})"


class AsOf(models.Model):
    """The instant a database is frozen at, when it holds historical data:
    `dealgate demo` records its data set's last day here, so every command
    and page on that database runs at it (dealgate.timesource). A real
    installation has no row and runs at the real time."""

    value = models.CharField(
        max_length=40,
        help_text="a date (2017-12-31: the end of that day in the zone the "
        "pipelines show their times in, or the server's zone when theirs differ) "
        "or an ISO instant with a UTC offset",
    )

    class Meta:
        verbose_name = "as-of date"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="clocks_asof_one_row")
        ]

    def __str__(self) -> str:
        return self.value
