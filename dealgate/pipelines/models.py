from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Pipeline(models.Model):
    """An ordered list of open stages plus the two outcomes, won and lost.

    The pipeline file (TOML) is the other face of these rows: `definition` keeps
    the parts that are not stages or handoffs (calendar, custom fields, loss
    reasons, settings) exactly as the file gave them.
    """

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    calendar = models.JSONField(default=dict)
    custom_fields = models.JSONField(default=list)
    loss_reasons = models.JSONField(default=list)
    won_criteria = models.JSONField(default=list)
    allow_skipping = models.BooleanField(default=False)
    settings = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.calendar:
            from dealgate.core.calendar import Calendar, CalendarError

            try:
                Calendar.from_dict(self.calendar)
            except CalendarError as exc:
                raise ValidationError({"calendar": str(exc)}) from exc


class Stage(models.Model):
    """A step a deal enters because the buyer did something."""

    class OwnerKind(models.TextChoices):
        PERSON = "person", "A person"
        TEAM = "team", "A team (routes to one person)"
        DEAL_OWNER = "deal_owner", "The deal's owner"

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages"
    )
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField()
    buyer_action = models.CharField(max_length=300, blank=True)
    owner_kind = models.CharField(
        max_length=12, choices=OwnerKind.choices, blank=True, default=""
    )
    owner_user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_stages",
    )
    owner_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_stages",
    )
    entry_criteria = models.JSONField(default=list)
    exit_criteria = models.JSONField(default=list)
    age_limit_days = models.PositiveIntegerField(null=True, blank=True)
    probability = models.PositiveSmallIntegerField(default=0)
    # A stage dropped from the pipeline while its history still refers to it:
    # kept for the history, left out of the board, moves and the file.
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "key"], name="stage_key_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100),
                name="stage_probability_le_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def owner_label(self) -> str:
        if self.owner_kind == self.OwnerKind.DEAL_OWNER:
            return "the deal's owner"
        if self.owner_kind == self.OwnerKind.PERSON and self.owner_user:
            return self.owner_user.display_name
        if self.owner_kind == self.OwnerKind.TEAM and self.owner_team:
            return f"team {self.owner_team.name}"
        return "no owner"


class Handoff(models.Model):
    """The passage into a stage (from a new lead when `from_stage` is empty)
    and how long the responsible person has to act on it."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="handoffs"
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    response_window_minutes = models.PositiveIntegerField(null=True, blank=True)
    responsible = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "from_stage", "to_stage"], name="handoff_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"handoff to {self.to_stage_id}"
