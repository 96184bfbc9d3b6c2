from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import models

from dealgate.core.names import NAME_KEY_LENGTH, name_key

from .stamps import Stamped, stamp

# The longest text a person may type into the unbounded text columns of a
# deal and its history, in characters. Every door (the deal page, the API,
# the CLI) goes through deals.services, which refuses more and names the
# field; the page's inputs and the API's schema state the same numbers.
TEXT_LIMITS = {
    "loss_note": 2_000,
    "override_reason": 2_000,
    "notes": 10_000,
    # Why a closed deal's fields were corrected (`services.update_deal`).
    "reason": 2_000,
}


class NameBlockField(models.CharField):
    """The first block of the organization's name as lead capture blocks
    company names (`leads.normalize.company_blocks`: transliterated, accents,
    case and legal forms dropped), so an inquiry from "Mueller Systemhaus"
    finds the deals of "MÜLLER GmbH" through an index. Set from the name on
    every save, bulk_create included."""

    # Which of the name's blocks the field holds: the first, or the second
    # ("" when the name has one).
    position = 0

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        from dealgate.leads.normalize import company_blocks, company_key

        blocks = company_blocks(company_key(model_instance.name))
        value = blocks[self.position] if len(blocks) > self.position else ""
        setattr(model_instance, self.attname, value)
        return value


class NameBlockOtherField(NameBlockField):
    """The second block of the organization's name, as leads keep theirs
    (`company_match_other`): "Konsulting Schmidt" is found by an inquiry
    from "Schmidt" ("schm") as by one from "Konsulting" ("kons")."""

    position = 1


class NameTypoBlockField(models.CharField):
    """The organization's name's typo block, as leads keep theirs
    (`leads.normalize.company_typo_match`): "Simens" is found by an inquiry
    from "Siemens", whose blocks it shares none of. Set from the name on
    every save, bulk_create included."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        from dealgate.leads.normalize import company_key, company_typo_match

        value = company_typo_match(company_key(model_instance.name))
        setattr(model_instance, self.attname, value)
        return value


class EmailKeyField(models.CharField):
    """The person's email as lead capture keys addresses
    (`leads.normalize.email_key`: case, a "+tag", gmail's dots and
    googlemail.com aside), so an inquiry from "Anna+web@Firm.com" finds the
    deals whose contact is "anna@firm.com" through an index. Set from the
    email on every save, bulk_create included, and by `PersonQuerySet.update`;
    "" for an address that key refuses, which then meets nothing."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = person_email_key(model_instance.email)
        setattr(model_instance, self.attname, value)
        return value


def person_email_key(email: str) -> str:
    """`leads.normalize.email_key` of a person's email; "" when it refuses
    it (the admin's email check lets through a few addresses it does not
    read, and a key must never be a second, looser rule)."""
    from dealgate.leads.normalize import email_key

    try:
        return email_key(email or "")
    except ValueError:
        return ""


class NameKeyField(models.CharField):
    """The organization's name as every door compares names
    (`core.names.name_key`: format characters, spacing and case aside), so
    "Acme", " acme " and "Ac\u200bme" find one organization through an
    index. Set from the name on every save, bulk_create included."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = name_key(model_instance.name)
        setattr(model_instance, self.attname, value)
        return value


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    name_block = NameBlockField(max_length=50, default="", editable=False)
    name_block_other = NameBlockOtherField(max_length=50, default="", editable=False)
    # Not unique: names that share a key may predate the key, or come from an
    # import; the doors that find an organization by name take the first.
    name_key = NameKeyField(max_length=NAME_KEY_LENGTH, default="", editable=False)
    name_block_typo = NameTypoBlockField(max_length=80, default="", editable=False)
    sector = models.CharField(max_length=100, blank=True)
    year_established = models.PositiveSmallIntegerField(null=True, blank=True)
    revenue_musd = models.DecimalField(
        "revenue (million USD)", max_digits=14, decimal_places=2, null=True, blank=True
    )
    employees = models.PositiveIntegerField(null=True, blank=True)
    location = models.CharField(max_length=100, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subsidiaries",
    )

    class Meta:
        indexes = [
            models.Index(fields=["name_block"], name="organization_name_block"),
            models.Index(
                fields=["name_block_other"], name="organization_name_block_other"
            ),
            models.Index(fields=["name_key"], name="organization_name_key"),
            models.Index(
                fields=["name_block_typo"], name="organization_name_block_typo"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PersonQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        """Update as any query set does, writing the email's key with a new
        email: an update saves no instance, so `EmailKeyField` is not run.
        One that writes both (as `bulk_update` below does) writes its own."""
        if "email" in kwargs and "email_key" not in kwargs:
            email = kwargs["email"]
            if not isinstance(email, str):
                raise TypeError(
                    "email: update people's email with text, not an expression "
                    "(its key, email_key, is computed from the text)"
                )
            kwargs["email_key"] = person_email_key(email)
        return super().update(**kwargs)

    def bulk_update(
        self, objs: Iterable[Person], fields: Sequence[str], **kwargs: Any
    ) -> int:
        """Bulk-update as any query set does, writing the email's key with
        the email: `bulk_update` writes attributes, runs no `pre_save`."""
        objs = list(objs)
        if "email" in fields:
            for person in objs:
                person.email_key = person_email_key(person.email)
            fields = [*fields, "email_key"] if "email_key" not in fields else fields
        return super().bulk_update(objs, fields, **kwargs)


class Person(models.Model):
    """A contact at a buyer's organization."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    # What de-duplication finds the person's open deals by (EmailKeyField).
    email_key = EmailKeyField(max_length=254, default="", editable=False)
    phone = models.CharField(max_length=40, blank=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
    )

    objects = PersonQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["email_key"], name="person_email_key")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=200, unique=True)
    series = models.CharField(max_length=100, blank=True)
    list_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )

    def __str__(self) -> str:
        return self.name


class Deal(Stamped):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    # FKs whose own index would repeat the first column of a composite index
    # below, or that are only read when a row they point at is deleted, have
    # none: every index costs each bulk import a write.
    pipeline = models.ForeignKey(
        "pipelines.Pipeline",
        on_delete=models.PROTECT,
        related_name="deals",
        db_index=False,
    )
    # The open stage the deal is in; for a closed deal, the stage it closed from.
    stage = models.ForeignKey(
        "pipelines.Stage", on_delete=models.PROTECT, related_name="deals"
    )
    status = models.CharField(max_length=4, choices=Status.choices, default=Status.OPEN)
    title = models.CharField(max_length=300)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    contact = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        db_index=False,
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        db_index=False,
    )
    # Who must move the deal out of its stage: the stage's owner, resolved to one
    # person when the deal entered the stage.
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responsible_for",
    )
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    # Checklist items the stage criteria read: item key -> ticked.
    checklist = models.JSONField(default=dict, blank=True, db_default={})
    loss_reason = models.CharField(max_length=100, blank=True)
    loss_note = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    custom = models.JSONField(default=dict, blank=True)
    # Empty only for imported deals whose source gave no date at all.
    created_at = models.DateTimeField(null=True, blank=True)
    # When the deal entered its current stage; empty when the source did not say.
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    expected_close_date = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    # Bumped on every change; a save made on an older version is a conflict.
    version = models.PositiveIntegerField(default=1)
    # When the row last changed (stamps.py: every save and update stamps it).
    updated_at = models.DateTimeField(default=stamp)

    class Meta:
        # What a deletion's SET NULL updates too, so it stamps (stamps.py).
        base_manager_name = "objects"
        # The last three serve insights over closed deals, open ages and
        # entries; `include` makes them covering on PostgreSQL (SQLite keeps
        # the keys only).
        indexes = [
            models.Index(fields=["pipeline", "status", "stage"], name="deal_board"),
            models.Index(fields=["owner", "status"], name="deal_owner_status"),
            models.Index(
                fields=["pipeline", "closed_at"],
                include=[
                    *("status", "stage", "owner", "product", "organization"),
                    *("source", "currency", "value", "created_at", "loss_reason"),
                ],
                condition=models.Q(status__in=["won", "lost"]),
                name="deal_closed",
            ),
            models.Index(
                fields=["pipeline", "stage", "stage_entered_at"],
                include=["owner", "product", "organization", "source"],
                condition=models.Q(status="open"),
                name="deal_open_age",
            ),
            models.Index(
                fields=["pipeline", "created_at"],
                include=["status", "stage", "owner", "product", "organization"],
                name="deal_entry",
            ),
            # The API's lists with `updated_since`: one keyset page. An import
            # stamps all its rows alike, so they land at the index's end.
            models.Index(fields=["updated_at", "id"], name="deal_updated"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="deal_external_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | (~models.Q(status="open") & models.Q(closed_at__isnull=False)),
                name="deal_closed_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class StageEvent(models.Model):
    """One row of a deal's append-only history.

    `from_entered_at` is when the deal had entered the stage it leaves, so the
    time spent there is known from this row alone: metrics never have to pair
    rows up to find durations.
    """

    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    from_stage = models.ForeignKey(
        "pipelines.Stage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    to_stage = models.ForeignKey(
        "pipelines.Stage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    from_status = models.CharField(max_length=4, blank=True)
    to_status = models.CharField(max_length=4)
    at = models.DateTimeField()
    from_entered_at = models.DateTimeField(null=True, blank=True)
    # Working minutes between from_entered_at and at, in the pipeline's calendar,
    # written with the row so metrics read durations instead of computing them.
    from_business_minutes = models.FloatField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    override_reason = models.TextField(blank=True)
    # Who became responsible for the deal with this move.
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    loss_reason = models.CharField(max_length=100, blank=True, db_default="")
    source = models.CharField(max_length=20, default="web")

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["deal", "at"], name="event_deal_at"),
            models.Index(fields=["to_stage", "at"], name="event_to_stage_at"),
            # Insights: moves out of a stage (time in stage, backward moves).
            # Only rows that leave a stage: entries into a first stage (most
            # of an import's events) have none, and no query asks for them
            # by an empty from_stage.
            models.Index(
                fields=["from_stage", "to_stage", "at"],
                include=["deal"],
                condition=models.Q(from_stage__isnull=False),
                name="event_backward",
            ),
            models.Index(
                fields=["from_stage", "at"],
                include=[
                    *("from_status", "from_business_minutes", "from_entered_at"),
                    "deal",
                ],
                condition=models.Q(from_stage__isnull=False),
                name="event_exits",
            ),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id}: {self.from_stage_id} -> {self.to_stage_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("stage events are append-only; record a new one instead")
        super().save(*args, **kwargs)

    @property
    def moves_closed(self) -> bool:
        """Whether this row moves a deal already won or lost between stages
        (a redesign sending a removed stage's deals elsewhere) rather than
        closing it: its status is the same before and after. Its history line
        names the stage it went to, never the outcome, which was reached
        earlier and would read as a second win or loss."""
        return self.from_status == self.to_status != Deal.Status.OPEN


class Activity(models.Model):
    """Something that happened with the buyer: a call, a meeting, an email;
    or a record Dealgate itself wrote in the deal's activities (`SYSTEM`: a
    redesign that carried the deal past gates, an edit of a closed deal),
    which no person logged and no criterion reads (`LOGGED` are the kinds
    people log)."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        TASK = "task", "Task"
        SYSTEM = "system", "System record"

    # The kinds a person logs, and criteria read: every kind but SYSTEM.
    LOGGED = (Kind.CALL, Kind.EMAIL, Kind.MEETING, Kind.NOTE, Kind.TASK)

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=300)
    # A finer label used by criteria, e.g. a meeting of kind "discovery".
    tag = models.CharField(max_length=50, blank=True)
    done = models.BooleanField(default=False)
    due_at = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When it was done and by whom: as it was logged for a call, email,
    # meeting or note; when it was marked done for a task.
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A system record's whole account, where the subject (one line) has room
    # only for a summary: for an edit of a closed deal, each field changed
    # with its old and new value, and the reason given (`services.update_deal`).
    detail = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class IdempotencyKey(models.Model):
    """A key sent with a request that creates a deal by hand, kept with the
    deal it made: the same request sent again (a double click, a retry)
    answers with that deal instead of making a second one.

    The API's keys are the client's `Idempotency-Key` header; the new-deal
    page's are the one-time token its form carries. The unique constraint
    makes two racing requests with one key write one deal: the second waits
    for the first and then finds its key. Rows older than
    `deals.idempotency.KEY_LIFETIME` count for nothing and are removed when
    a new key is written.
    """

    class Door(models.TextChoices):
        API = "api", "API"
        WEB = "web", "New deal page"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique index leads with it
    )
    door = models.CharField(max_length=3, choices=Door.choices)
    key = models.CharField(max_length=255)
    # A SHA-256 of the request, so a key sent again with another body is
    # refused instead of answered with a deal it did not ask for.
    fingerprint = models.CharField(max_length=64)
    # Empty only inside the transaction that claims the key and makes the deal.
    deal = models.ForeignKey(
        Deal, null=True, on_delete=models.CASCADE, related_name="+"
    )
    # What the first request was answered (the API's body), given back again.
    answer = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "door", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]

    def __str__(self) -> str:
        return f"{self.door} key {self.key!r} of user {self.user_id}"
