"""Pipelines in the admin: shown, never changed.

A pipeline changes through its file (`dealgate pipeline validate` and
`apply`) or the builder at /pipelines/, which plan and apply the same
definition: they check every part (criteria, response windows, age limits,
owners, the calendar, custom fields, loss reasons) and carry a change to what
runs, re-dating running clocks for a new window, limit or calendar and moving
a retired stage's deals on. A form here would save the rows past both, so a
pipeline, its stages and its handoffs are read-only here and none is added.

A pipeline is deleted here only while no deal or lead is in it (the file and
the builder never delete one): its confirm page says how many of each there
are, and names the first deals.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from dealgate.core.text import counted
from dealgate.deals.admin import DEALS_NAMED
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from dealgate.web.admin_kept import KeptFromDeletion

from .models import Handoff, Pipeline, Stage

CHANGED_ELSEWHERE = (
    "A pipeline changes through its file (dealgate pipeline validate, then "
    "dealgate pipeline apply) or the builder, which check it and re-date the "
    "running clocks a new response window, age limit or calendar concerns. "
    "Here it is shown only."
)


class ShownOnly:
    """Neither added nor changed in the admin: see the module's docstring."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StageInline(ShownOnly, admin.TabularInline):
    model = Stage
    extra = 0
    can_delete = False
    fields = (
        "position",
        "key",
        "name",
        "buyer_action",
        "owner_kind",
        "owner_user",
        "owner_team",
        "entry_criteria",
        "exit_criteria",
        "age_limit_days",
        "probability",
        "retired_at",
        "replaced_by",
    )


class HandoffInline(ShownOnly, admin.TabularInline):
    model = Handoff
    extra = 0
    can_delete = False
    fields = ("from_stage", "to_stage", "response_window_minutes", "responsible")


@admin.register(Pipeline)
class PipelineAdmin(KeptFromDeletion, ShownOnly, admin.ModelAdmin):
    # Its stages and handoffs go with it; alone they are never deleted.
    goes_with = (Handoff,)

    inlines = [StageInline, HandoffInline]
    list_display = ("name", "key", "currency", "updated_at")
    fieldsets = (
        (
            None,
            {
                "description": CHANGED_ELSEWHERE,
                "fields": ("key", "name", "builder", "description", "currency"),
            },
        ),
        (
            "Rules",
            {
                "fields": (
                    "calendar",
                    "custom_fields",
                    "loss_reasons",
                    "won_criteria",
                    "allow_skipping",
                    "settings",
                )
            },
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Change it")
    def builder(self, pipeline: Pipeline) -> str:
        url = reverse("builder:edit", args=[pipeline.key])
        return format_html(
            '<a href="{}">in the builder</a>, or in its file: dealgate pipeline '
            "export {} -o FILE, edit FILE, then dealgate pipeline apply FILE",
            url,
            pipeline.key,
        )

    def kept_by(self, obj: Pipeline) -> list[str]:
        return _kept_by(obj)


def _kept_by(pipeline: Pipeline) -> list[str]:
    """Lines saying how many deals and leads keep `pipeline`, naming the first
    DEALS_NAMED deals; none when nothing does."""
    deals: QuerySet[Deal] = Deal.objects.filter(pipeline=pipeline).order_by("pk")
    total = deals.count()
    leads = Lead.objects.filter(pipeline=pipeline).count()
    if not (total or leads):
        return []
    held = " and ".join(
        counted(count, noun)
        for count, noun in ((total, "deal"), (leads, "lead"))
        if count
    )
    lines = [f"pipeline {pipeline} holds {held}, so it is kept"]
    lines.extend(
        f"deal #{deal.pk} {deal.title!r} ({deal.status}) is in {pipeline}"
        for deal in deals.only("pk", "title", "status")[:DEALS_NAMED]
    )
    if total > DEALS_NAMED:
        more = counted(total - DEALS_NAMED, "deal")
        lines.append(f"and {more} more in {pipeline}")
    return lines


@admin.register(Handoff)
class HandoffAdmin(ShownOnly, admin.ModelAdmin):
    """A handoff's response window is changed by apply or the builder, which
    re-date the running response clocks at it."""

    list_display = (
        "pipeline",
        "from_stage",
        "to_stage",
        "response_window_minutes",
        "responsible",
    )
    list_filter = ("pipeline",)
    list_select_related = ("pipeline", "from_stage", "to_stage")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a removed handoff ends its running clocks: apply does that
