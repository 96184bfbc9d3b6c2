"""People and teams in the admin.

A person who owns or answers for work, or whom the history names, is not
deleted here: the database would blank them on deals, clocks, leads and stage
events behind the services (won deals left without an owner, running clocks
with nobody to tell) and leave pipelines naming a username that no longer
exists. The confirm page, and "Delete selected", say what keeps them and
steer to deactivating instead (untick Active), which stops their sign-in and
keeps every record that names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q
from django.http import HttpRequest

from dealgate.clocks.models import Clock
from dealgate.core import routing
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.insights.models import WeeklyReview
from dealgate.leads.models import DedupDecision, Lead, LeadActivity, LeadAssignment
from dealgate.pipelines.models import Handoff, Pipeline, Stage

from .models import SignInFailures, Team, User

# How many of the deals, leads or clocks that keep a person are named, each.
NAMED = 10

# History rows that name a person, counted per kind: (model, the fields that
# point at the person, what a row is in words).
HISTORY = (
    (StageEvent, ("by", "responsible"), "stage event"),
    (Activity, ("by", "done_by"), "deal activity"),
    (LeadAssignment, ("owner", "by"), "lead assignment"),
    (LeadActivity, ("by", "done_by"), "lead activity"),
    (DedupDecision, ("by", "undone_by"), "de-duplication decision"),
    (WeeklyReview, ("recorded_by",), "weekly review decision"),
)


@admin.register(User)
class DealgateUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Dealgate", {"fields": ("role", "team", "calendar")}),
    )
    list_display = ("username", "first_name", "last_name", "role", "team")

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        kept = [line for user in objs for line in what_keeps(user)]
        if kept:
            # Refused anyway: no need to gather the rows a deletion would take.
            return [], {}, set(), kept
        return super().get_deleted_objects(objs, request)


def what_keeps(user: User) -> list[str]:
    """Lines naming what keeps `user` from being deleted, the first saying to
    deactivate them instead; none when nothing does. About fifteen queries."""
    held = [
        *_deals(user),
        *_clocks(user),
        *_leads(user),
        *_history(user),
        *_pipelines(user),
        *(f"{user.username} manages team {team}" for team in _managed(user)),
    ]
    if not held:
        return []
    first = (
        f"{user.username} is kept: deactivate them instead (untick Active on "
        f"their change page, or dealgate user set {user.username} --inactive); "
        "they can no longer sign in, and the deals, clocks, leads and history "
        "below keep naming them"
    )
    return [first, *held]


def _either(user: User, fields: Iterable[str]) -> Q:
    query = Q()
    for name in fields:
        query |= Q(**{name: user})
    return query


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _more(total: int, noun: str, user: User) -> list[str]:
    if total <= NAMED:
        return []
    more = total - NAMED
    return [
        f"and {more:,} more {noun}{'' if more == 1 else 's'} naming {user.username}"
    ]


def _deals(user: User) -> list[str]:
    deals = Deal.objects.filter(_either(user, ("owner", "responsible")))
    total = deals.count()
    if not total:
        return []
    lines = [
        f"{user.username} owns or is responsible for {_count(total, 'deal')} "
        "(a deal page's owner field hands one over)"
    ]
    for deal in deals.order_by("pk").only(
        "pk", "title", "status", "owner_id", "responsible_id"
    )[:NAMED]:
        roles = [
            role
            for role, held in (
                ("owner", deal.owner_id == user.pk),
                ("responsible person", deal.responsible_id == user.pk),
            )
            if held
        ]
        lines.append(
            f"deal #{deal.pk} {deal.title!r} ({deal.status}) has {user.username} "
            f"as its {' and '.join(roles)}"
        )
    return [*lines, *_more(total, "deal", user)]


def _clocks(user: User) -> list[str]:
    clocks = Clock.objects.filter(responsible=user)
    total = clocks.count()
    if not total:
        return []
    running = clocks.filter(state=Clock.State.RUNNING).order_by("due_at", "pk")
    count = running.count()
    lines = [
        f"{user.username} is responsible for {_count(total, 'clock')}, "
        f"{count:,} of them running"
    ]
    lines.extend(
        f"clock {clock.key} ({clock.kind}) is running for {user.username}, "
        f"due {clock.due_at:%Y-%m-%d %H:%M} UTC"
        for clock in running.only("key", "kind", "due_at")[:NAMED]
    )
    return [*lines, *_more(count, "running clock", user)]


def _leads(user: User) -> list[str]:
    leads = Lead.objects.filter(_either(user, ("owner", "created_by")))
    total = leads.count()
    if not total:
        return []
    lines = [f"{user.username} owns or entered {_count(total, 'lead')}"]
    lines.extend(
        f"lead #{lead.pk} {lead.name or lead.company!r} ({lead.status})"
        for lead in leads.order_by("pk").only("pk", "name", "company", "status")[:NAMED]
    )
    return [*lines, *_more(total, "lead", user)]


def _history(user: User) -> list[str]:
    counted = [
        _count(model.objects.filter(_either(user, fields)).count(), noun)
        for model, fields, noun in HISTORY
    ]
    named = [text for text in counted if not text.startswith("0 ")]
    if not named:
        return []
    return [f"{user.username} is named in the history: {', '.join(named)}"]


def _pipelines(user: User) -> list[str]:
    """Stages they own, handoffs they answer for and routing rules that send
    leads to them: a pipeline file names them there by username."""
    lines = [
        f"{user.username} owns stage {stage.name!r} of pipeline {stage.pipeline}"
        for stage in Stage.objects.filter(owner_user=user)
        .select_related("pipeline")
        .order_by("pipeline_id", "position")
    ]
    named = f"user:{user.username}"
    lines.extend(
        f"{user.username} is responsible for the handoff into "
        f"{handoff.to_stage.name!r} of pipeline {handoff.pipeline}"
        for handoff in Handoff.objects.filter(responsible=named)
        .select_related("pipeline", "to_stage")
        .order_by("pk")
    )
    lines.extend(
        f"routing rules of pipeline {pipeline} send leads to {user.username}"
        for pipeline in Pipeline.objects.order_by("pk").only("pk", "name", "settings")
        if _routes_to(pipeline, user.username)
    )
    return lines


def _routes_to(pipeline: Pipeline, username: str) -> bool:
    try:
        rules = routing.parse_rules((pipeline.settings or {}).get("routing") or [])
    except ValueError:
        return False  # rules that do not read route to nobody
    return any(
        rule.target.kind != "team" and username in rule.target.names for rule in rules
    )


def _managed(user: User) -> list[Team]:
    return list(Team.objects.filter(manager=user).order_by("name"))


admin.site.register(Team)


@admin.register(SignInFailures)
class SignInFailuresAdmin(admin.ModelAdmin):
    """Counts and locks of failed sign-ins: deleting a row lifts its lock
    (as `dealgate user unlock` does). Addresses are shown as the start of
    their keyed hash, all that is stored of them."""

    list_display = (
        "scope",
        "username",
        "address_hash",
        "failures",
        "since",
        "locked_until",
        "signed_in_at",
    )
    list_filter = ("scope",)
    search_fields = ("username",)

    @admin.display(description="address (hash)")
    def address_hash(self, row: SignInFailures) -> str:
        return f"{row.address[:12]}..." if row.address else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: SignInFailures | None = None
    ) -> bool:
        return False
