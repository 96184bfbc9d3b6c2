from __future__ import annotations

from django.conf import settings
from django.db import models


class Draft(models.Model):
    """A pipeline being edited in the builder, not applied yet.

    `spec` is a whole `PipelineSpec` as plain data (see
    `dealgate.builder.drafts.spec_to_data`), so applying a draft goes through
    the same plan and apply as a pipeline file. `base` is the applied
    pipeline's spec when the draft was started (None for a new pipeline): a
    difference from the pipeline now means someone changed it meanwhile.
    Breach and routing rules are part of the spec, like every other key.
    """

    key = models.SlugField(max_length=50, unique=True)
    spec = models.JSONField()
    base = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set from dealgate.timesource, so demos and tests see their own clock.
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"draft of pipeline {self.key}"
