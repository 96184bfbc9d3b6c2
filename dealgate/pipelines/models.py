from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver


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
    # A new random value whenever the pipeline, one of its stages or one of
    # its handoffs is saved or deleted (`save` below and the receivers at the
    # end of this module), so a process may keep what it read of the stages
    # and handoffs under it: see `layout_for`. Random rather than counted, so
    # a value is never seen twice, not even for a row id that SQLite hands out
    # again after a rollback. QuerySet.update(), bulk_create and raw SQL on
    # stages or handoffs send no signals: save the pipeline after them, as
    # `pipeline apply` does.
    revision = models.UUIDField(default=uuid.uuid4, editable=False)

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Always a new revision: a save of a copy read before its stages
        # changed must not write the older revision back.
        self.revision = uuid.uuid4()
        update_fields = kwargs.get("update_fields")
        if update_fields:
            kwargs["update_fields"] = {*update_fields, "revision"}
        super().save(*args, **kwargs)

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
    # When a redesign added the stage to a pipeline that already had deals'
    # history: deals past its place by then never could pass through it, so
    # insights judge it only by the deals that reached its place later. None
    # for the stages a pipeline was created with (and for those added before
    # this was kept): there since the start.
    added_at = models.DateTimeField(null=True, blank=True)
    # The stage that took a retired stage's place: where `--move` sent its
    # deals, else the stage kept just before it. Insights count a deal that
    # stood in a retired stage as having reached this one.
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

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


def active_stages(pipeline: Pipeline) -> models.QuerySet[Stage]:
    """The pipeline's stages that deals may be in or move to, without retired
    ones, in order (a QuerySet): by position, then id.

    A retired stage keeps the position it had, which a live stage holds too
    once the stages after it moved up: "the first stage", and any walk of
    the stages in order, come from here, never from all the stages by
    position (the retired one at a tie has the lower id).
    """
    return pipeline.stages.filter(retired_at=None).order_by("position", "id")


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


class Layout:
    """A pipeline's stages (retired ones too) and the handoffs that carry a
    response window, as read at one revision of the pipeline.

    Kept per process by `layout_for` and shared between requests and threads,
    so it hands out copies: a caller may load a stage's relations or change
    its copy without touching the next caller's.
    """

    def __init__(
        self, revision: uuid.UUID, stages: Iterable[Stage], handoffs: Iterable[Handoff]
    ) -> None:
        self.revision = revision
        # As active_stages orders them: a retired stage may share a position.
        self._stages = sorted(stages, key=lambda stage: (stage.position, stage.pk))
        self._by_id = {stage.pk: stage for stage in self._stages}
        # The lowest id first, as `.first()` of the same filter would pick.
        self._handoffs: dict[tuple[int | None, int], Handoff] = {}
        for handoff in sorted(handoffs, key=lambda handoff: handoff.pk):
            if handoff.response_window_minutes is not None:
                ends = (handoff.from_stage_id, handoff.to_stage_id)
                self._handoffs.setdefault(ends, handoff)

    def open_stages(self) -> list[Stage]:
        """The stages deals may be in or move to (not retired), in order, as
        `active_stages` gives them."""
        return [copy.copy(s) for s in self._stages if s.retired_at is None]

    def stage(self, stage_id: int) -> Stage | None:
        """The stage with this id, retired or not; None if not this pipeline's."""
        stage = self._by_id.get(stage_id)
        return None if stage is None else copy.copy(stage)

    def window(self, from_stage_id: int | None, to_stage_id: int) -> Handoff | None:
        """The handoff into `to_stage_id` (from a new lead when `from_stage_id`
        is None) if it carries a response window."""
        handoff = self._handoffs.get((from_stage_id, to_stage_id))
        return None if handoff is None else copy.copy(handoff)


# Pipelines are few; the bound only keeps a long test run from hoarding them.
_LAYOUTS_KEPT = 256
_layouts: dict[int, Layout] = {}


def layout_for(pipeline: Pipeline) -> Layout:
    """The stages and windowed handoffs of `pipeline` at its revision: two
    queries the first time a process meets that revision, none after.

    `pipeline` must be read in the caller's transaction (a move reads it with
    the locked deal), else an older revision may answer with older stages.
    The stages are read after the revision, so they are never older than it.
    """
    layout = _layouts.get(pipeline.pk)
    if layout is not None and layout.revision == pipeline.revision:
        return layout
    layout = Layout(
        pipeline.revision,
        Stage.objects.filter(pipeline=pipeline),
        Handoff.objects.filter(pipeline=pipeline),
    )
    if len(_layouts) >= _LAYOUTS_KEPT:
        _layouts.clear()  # one step, safe beside other threads; they refill it
    _layouts[pipeline.pk] = layout
    return layout


@receiver(post_save, sender=Stage, dispatch_uid="pipeline-revision-stage-saved")
@receiver(post_save, sender=Handoff, dispatch_uid="pipeline-revision-handoff-saved")
@receiver(post_delete, sender=Stage, dispatch_uid="pipeline-revision-stage-deleted")
@receiver(post_delete, sender=Handoff, dispatch_uid="pipeline-revision-handoff-deleted")
def _new_revision(sender: type, instance: Stage | Handoff, **kwargs: Any) -> None:
    Pipeline.objects.filter(pk=instance.pipeline_id).update(revision=uuid.uuid4())


@receiver(post_save, sender=Pipeline, dispatch_uid="as-of-zone-pipeline-saved")
@receiver(post_delete, sender=Pipeline, dispatch_uid="as-of-zone-pipeline-deleted")
def _as_of_zone_changed(sender: type, instance: Pipeline, **kwargs: Any) -> None:
    # A date-only as-of ends its day in the pipelines' zone, which may differ now.
    from dealgate import timesource

    timesource.forget_as_of_zone()
