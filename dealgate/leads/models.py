"""Leads: inquiries before they are deals, and what routing needs to place them.

A lead is captured once per inquirer. A repeat inquiry is attached to the
open lead or deal it matches (a `DedupDecision` records why) instead of
becoming a second lead. Routing writes the owner, the rule and its reason
on the lead, and a `LeadAssignment` row per assignment.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from dealgate.core.dates import years_problem
from dealgate.deals.stamps import Stamped, stamp

from .normalize import COMPANY_KEY_LENGTH, COMPANY_MATCH_LENGTH, DOMAIN_KEY_LENGTH

User = settings.AUTH_USER_MODEL


class Lead(Stamped):
    class Status(models.TextChoices):
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        ANSWERED = "answered", "Answered"
        CONVERTED = "converted", "Converted"
        DISQUALIFIED = "disqualified", "Disqualified"
        MERGED = "merged", "Merged"
        # An imported record of a past inquiry that did not become a deal;
        # whether it was lost or just went quiet, the source did not say.
        ARCHIVED = "archived", "Archived"

    OPEN = (Status.NEW, Status.ASSIGNED, Status.ANSWERED)
    # The leads a new inquiry may repeat: open ones, and converted ones (whose
    # deal may still be open). De-duplication reads only these.
    LIVE = (*OPEN, Status.CONVERTED)

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.PROTECT, related_name="leads"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default="new")
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    email_key = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    company = models.CharField(max_length=200, blank=True)
    company_key = models.CharField(max_length=COMPANY_KEY_LENGTH, blank=True)
    company_block = models.CharField(max_length=50, blank=True)
    # The blocks and the numbers of the company key: what de-duplication
    # reads company candidates by (normalize.company_matches), the second
    # "" when the name has one block.
    company_match = models.CharField(max_length=COMPANY_MATCH_LENGTH, blank=True)
    company_match_other = models.CharField(
        max_length=COMPANY_MATCH_LENGTH, blank=True, db_default=""
    )
    # The name's typo block with its numbers (normalize.company_typo_match):
    # a third way to be a candidate, for names misspelt early in each word.
    company_match_typo = models.CharField(
        max_length=COMPANY_MATCH_LENGTH, blank=True, db_default=""
    )
    website = models.CharField(max_length=200, blank=True)
    # The company's domain, from the website or the email address; never a
    # mailbox provider's (normalize.is_mailbox_provider).
    domain = models.CharField(max_length=DOMAIN_KEY_LENGTH, blank=True)
    country = models.CharField(max_length=2, blank=True)
    segment = models.CharField(max_length=50, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    message = models.TextField(blank=True)
    # Where the inquiry came from, as routing rules test it ("partner",
    # "organic_search"); the door it came through is `channel`.
    source = models.CharField(max_length=50, blank=True)
    channel = models.CharField(max_length=10)
    # The id the lead has in the system it came from; a second capture or
    # import with the same (channel, external id) finds the first lead.
    external_id = models.CharField(max_length=100, blank=True)
    # With an external id, a digest of the inquiry as captured
    # (`services.inquiry_digest`): what a resend under the id must match to
    # be the same inquiry, whatever edits the lead had since. Empty on leads
    # captured before it was kept, which compare by their fields.
    inquiry_digest = models.CharField(max_length=64, blank=True, default="")
    custom = models.JSONField(default=dict, blank=True)
    # Imported records of past inquiries: never routed, no response window,
    # allowed without an email or phone.
    historic = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    # The routing rule that chose the owner ("" when none did), and why.
    rule = models.CharField(max_length=100, blank=True)
    routing_reason = models.TextField(blank=True)
    # The intake response window: started by an assignment, ended by the
    # owner's first outbound call, email or meeting.
    assigned_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    response_wall_seconds = models.FloatField(null=True, blank=True)
    response_business_minutes = models.FloatField(null=True, blank=True)

    closed_at = models.DateTimeField(null=True, blank=True)
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    disqualify_reason = models.CharField(max_length=200, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the row last changed (deals/stamps.py: every save and update
    # stamps it).
    updated_at = models.DateTimeField(default=stamp)

    class Meta:
        # What a deletion's SET NULL updates too, so it stamps (deals/stamps.py).
        base_manager_name = "objects"
        indexes = [
            models.Index(
                fields=["pipeline", "status", "created_at"], name="lead_inbox"
            ),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            # The de-duplication keys with the status: a capture reads live
            # leads only, and most stored leads are closed. With the status in
            # the index, a common company word costs the capture its live
            # leads, not a visit to every closed row with that word. (Partial
            # indexes of live leads would be smaller, but SQLite cannot use one
            # for a status list passed as parameters.)
            models.Index(fields=["email_key", "status"], name="lead_dedup_email"),
            models.Index(fields=["phone_e164", "status"], name="lead_dedup_phone"),
            models.Index(fields=["domain", "status"], name="lead_dedup_domain"),
            models.Index(
                fields=["company_match", "status"], name="lead_dedup_company_match"
            ),
            models.Index(
                fields=["company_match_other", "status"],
                name="lead_dedup_company_other",
            ),
            models.Index(
                fields=["company_match_typo", "status"],
                name="lead_dedup_company_typo",
            ),
            # The API's list with `updated_since`: one keyset page.
            models.Index(fields=["updated_at", "id"], name="lead_updated"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="lead_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """What the lead is called on pages: person and company, or its id."""
        parts = [part for part in (self.name, self.company) if part]
        return " · ".join(parts) or self.email or self.phone or f"lead {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class LeadAssignment(models.Model):
    """One assignment of a lead: to whom, by which rule, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    at = models.DateTimeField()
    # A person who assigned by hand; empty when the routing rules did.
    by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"lead {self.lead_id} to {self.owner_id} by {self.rule or 'hand'}"


class LeadActivity(models.Model):
    """Something that happened with the inquirer before there was a deal."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        INQUIRY = "inquiry", "Repeat inquiry"
        # A follow-up for the owner, due at `due_at` (the clocks' sweeper
        # makes one when a response window runs out); `done` when done.
        TASK = "task", "Task"

    # The kinds whose outbound occurrence answers an inquiry.
    RESPONSES = (Kind.CALL, Kind.EMAIL, Kind.MEETING)

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outbound = models.BooleanField(default=False)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Tasks only: when it is due, whether it was done, and when and by whom.
    due_at = models.DateTimeField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "lead activities"

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class DedupDecision(models.Model):
    """Why an inquiry was joined to an existing lead or deal, and its undoing.

    `attached`: a capture matched an open lead or deal and was added to it
    as an activity (`activity_id`); `data` keeps the inquiry as captured, so
    a split can make it a lead of its own. `merged`: a person forced an
    existing lead (`source_lead`) into another lead or a deal. A split sets
    `undone_at` and points `source_lead` at the lead it made.
    """

    class Action(models.TextChoices):
        ATTACHED = "attached", "Attached as a repeat inquiry"
        MERGED = "merged", "Merged by hand"

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    # What matched: email, phone, domain, company or manual.
    matched_on = models.CharField(max_length=10)
    reason = models.TextField()
    score = models.FloatField(null=True, blank=True)
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="joined"
    )
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    source_lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, blank=True)
    # The inquiry's own external id, so sending it again is recognised.
    external_id = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The LeadActivity (on a lead) or deals Activity (on a deal) it added.
    activity_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["channel", "external_id"], name="dedup_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.action} ({self.matched_on}) at {self.at:%Y-%m-%d %H:%M}"


class LeadNotice(models.Model):
    """A message to a person about a lead or deal of theirs ("repeat inquiry").

    Shown in their inbox until read. The outbox that mails notices is a
    later piece; these rows are what it will send.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.CharField(max_length=300)
    at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="lead_notice_unread")]

    def __str__(self) -> str:
        return self.text


class Availability(models.Model):
    """Leave and a cap on open leads; without a row a person has neither.

    A person's working hours are `User.calendar` (the pipeline's hours when
    empty). `capacity` caps their open leads; empty means no cap.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="availability"
    )
    away_from = models.DateTimeField(null=True, blank=True)
    away_until = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "availability"

    def __str__(self) -> str:
        return f"availability of {self.user_id}"

    def clean(self) -> None:
        """The admin's checks (the command line makes its own): each end in
        the product's years (`core.dates`), as a typo (2199, 0219) would keep
        someone away when business time cannot count, and leave that ends
        before it starts, which would never apply, silently."""
        outside = {
            name: problem
            for name in ("away_from", "away_until")
            if (value := getattr(self, name)) is not None
            and (problem := years_problem(value.date()))
        }
        if outside:
            raise DjangoValidationError(outside)
        if (
            self.away_from is not None
            and self.away_until is not None
            and self.away_until <= self.away_from
        ):
            raise DjangoValidationError(
                {"away_until": "must be after away from; leave ends after it starts"}
            )


class RoutingState(models.Model):
    """A rule's rotation pointer, kept in the database so it survives restarts
    and is shared by every worker. Locked (SELECT ... FOR UPDATE) while a
    lead is routed by the rule."""

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="+"
    )
    rule = models.CharField(max_length=100)
    state = models.JSONField(default=dict, blank=True)
    turns = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "rule"], name="routing_state_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.turns} turns"


class ApiToken(models.Model):
    """A per-user key for the API. Only the SHA-256 of the secret is kept;
    the secret itself is shown once, when the token is created.

    Its scope is what it opens, each one more than the one before:
    `capture` sends leads in (POST /api/v1/leads) and reads nothing, what a
    website's lead form needs, where anyone reading the page can copy the
    token, so it is the default for a new token; `leads` opens every lead
    endpoint (reading any lead too), and every token made before `capture`
    existed keeps it; `leads,deals` the deals endpoints as well. Within its
    scope it acts with its user's rights."""

    class Scope(models.TextChoices):
        CAPTURE = "capture", "capture"
        LEADS = "leads", "leads"
        LEADS_AND_DEALS = "leads,deals", "leads, deals"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(
        max_length=20,
        choices=Scope.choices,
        default=Scope.CAPTURE,
        help_text="the endpoints the token opens: capturing leads only, the "
        "leads', or the deals' too",
    )
    # Where a capture with this token goes when it names no pipeline; unset,
    # the only pipeline there is (several: the capture must name one).
    pipeline = models.ForeignKey(
        "pipelines.Pipeline",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the pipeline its captures go to when they name none",
    )
    key_hash = models.CharField(max_length=64, unique=True)
    # The secret's first characters, so a person can tell tokens apart.
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def opens_deals(self) -> bool:
        return self.scope == self.Scope.LEADS_AND_DEALS


class FormHit(models.Model):
    """Web form submissions per client address and the moment they were
    posted, for the sliding rate limit (dealgate.leads.formhits). The
    address is stored only as a keyed hash."""

    client = models.CharField(max_length=64)
    # When the submissions were posted (the name is from when they were
    # counted in fixed slots, which this held the start of).
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "window_start"], name="form_hit_unique"
            ),
        ]
        # Forgetting old submissions reads by time alone, at each new one.
        indexes = [models.Index(fields=["window_start"], name="form_hit_time")]

    def __str__(self) -> str:
        return f"{self.count} at {self.window_start:%Y-%m-%d %H:%M}"


class SpooledCapture(models.Model):
    """A spooled inquiry taken in (dealgate.leads.spool): its receipt, written
    in the capture's own transaction, so that a file found again after a
    crash between that commit and its removal is not captured twice."""

    receipt = models.CharField(max_length=32, unique=True)
    channel = models.CharField(max_length=10)
    received_at = models.DateTimeField()
    taken_at = models.DateTimeField()
    # What the capture made or joined; empty for an external id seen before.
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.ForeignKey(
        DedupDecision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"spooled {self.receipt} taken in at {self.taken_at:%Y-%m-%d %H:%M}"
