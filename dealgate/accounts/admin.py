"""People and teams in the admin.

A person is added and changed, and a team added and given a manager, through
the services the `dealgate user` and `dealgate team` commands use
(dealgate.accounts.admin_forms): the same checks, and a person deactivated,
made a rep or moved to another team stops leading their team, as with
`dealgate user set`. Usernames and team names stay as they were added:
handoffs and routing rules name them as text (user:NAME, team:NAME).

A person who owns or answers for work, or whom the history names, is not
deleted here: the database would blank them on deals, clocks, leads and stage
events behind the services (won deals left without an owner, running clocks
with nobody to tell) and leave pipelines naming a username that no longer
exists. The confirm page, and "Delete selected", say what keeps them and
steer to deactivating instead (untick Active, naming in "Hand over to" who
takes their open work: dealgate.accounts.handover), which stops their sign-in
and keeps their history and closed deals naming them. A team is kept the
same way while people, stages, handoffs or routing rules name it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.http import HttpRequest

from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.core import routing
from dealgate.core.text import counted
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.insights.models import WeeklyReview
from dealgate.leads.models import DedupDecision, Lead, LeadActivity, LeadAssignment
from dealgate.pipelines.calendars import pipeline_time
from dealgate.pipelines.models import Handoff, Pipeline, Stage
from dealgate.web.admin_kept import KeptFromDeletion

from .admin_forms import (
    TeamThroughService,
    UserAddThroughService,
    UserChangeThroughService,
)
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


# What a person may do follows their role, never a group or a permission of
# Django's (the user form has neither), so groups have no page here.
admin.site.unregister(Group)


@admin.register(User)
class DealgateUserAdmin(KeptFromDeletion, UserAdmin):
    """People: added and changed through the services `dealgate user add` and
    `user set` use (dealgate.accounts.admin_forms); a password is set on
    Django's own password form. The username stays as it was added, and
    staff and superuser follow the role (an admin is both)."""

    # What was told to them goes with them; alone it is never deleted.
    goes_with = (Notice, Delivery)

    form = UserChangeThroughService
    add_form = UserAddThroughService
    add_form_template = None  # the plain change form: every field on one page
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        (
            "Dealgate",
            {"fields": ("role", "team", "is_active", "hand_to", "calendar")},
        ),
        (
            "Set by the role (an admin may use /admin/)",
            {"fields": ("is_staff", "is_superuser")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "username",
                    "role",
                    "team",
                    "name",
                    "email",
                    "password1",
                    "password2",
                )
            },
        ),
    )
    readonly_fields = ("is_staff", "is_superuser", "last_login", "date_joined")
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "is_active", "team")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("username", *self.readonly_fields)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The change form hands work over as the person signed in.
        return type(form.__name__, (form,), {"by": request.user})

    def save_model(
        self, request: HttpRequest, obj: User, form: Any, change: bool
    ) -> None:
        # The form saved it through the service; show what is stored now.
        obj.refresh_from_db()
        for note in form.notes:
            self.message_user(request, note, messages.WARNING)

    def kept_by(self, obj: User) -> list[str]:
        return what_keeps(obj)


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
        "their change page and choose in Hand over to who takes their open work, "
        f"or dealgate user set {user.username} --inactive --hand-to USERNAME); "
        "they can no longer sign in, and their closed deals and history keep "
        "naming them"
    )
    return [first, *held]


def _either(user: User, fields: Iterable[str]) -> Q:
    query = Q()
    for name in fields:
        query |= Q(**{name: user})
    return query


def _more(total: int, noun: str, user: User) -> list[str]:
    if total <= NAMED:
        return []
    more = total - NAMED
    return [f"and {counted(more, 'more ' + noun)} naming {user.username}"]


def _deals(user: User) -> list[str]:
    deals = Deal.objects.filter(_either(user, ("owner", "responsible")))
    total = deals.count()
    if not total:
        return []
    lines = [
        f"{user.username} owns or is responsible for {counted(total, 'deal')} "
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
        f"{user.username} is responsible for {counted(total, 'clock')}, "
        f"{count:,} of them running"
    ]
    lines.extend(
        f"clock {clock.key} ({clock.kind}) is running for {user.username}, "
        f"due {pipeline_time(clock.due_at, clock.pipeline)}"
        for clock in running.select_related("pipeline").only(
            "key", "kind", "due_at", "pipeline__calendar"
        )[:NAMED]
    )
    return [*lines, *_more(count, "running clock", user)]


def _leads(user: User) -> list[str]:
    leads = Lead.objects.filter(_either(user, ("owner", "created_by")))
    total = leads.count()
    if not total:
        return []
    lines = [f"{user.username} owns or entered {counted(total, 'lead')}"]
    lines.extend(
        f"lead #{lead.pk} {lead.name or lead.company!r} ({lead.status})"
        for lead in leads.order_by("pk").only("pk", "name", "company", "status")[:NAMED]
    )
    return [*lines, *_more(total, "lead", user)]


def _history(user: User) -> list[str]:
    tallies = [
        (model.objects.filter(_either(user, fields)).count(), noun)
        for model, fields, noun in HISTORY
    ]
    named = [counted(count, noun) for count, noun in tallies if count]
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


def _routes_to(pipeline: Pipeline, name: str, *, team: bool = False) -> bool:
    """Whether a routing rule of `pipeline` sends leads to the person (or,
    with `team`, the team) called `name`."""
    try:
        rules = routing.parse_rules((pipeline.settings or {}).get("routing") or [])
    except ValueError:
        return False  # rules that do not read route to nobody
    return any(
        (rule.target.kind == "team") == team and name in rule.target.names
        for rule in rules
    )


def _managed(user: User) -> list[Team]:
    return list(Team.objects.filter(manager=user).order_by("name"))


@admin.register(Team)
class TeamAdmin(KeptFromDeletion, admin.ModelAdmin):
    """Teams: added and given a manager through the services `dealgate team`
    uses; a team is not renamed (pipelines name it as team:NAME), and not
    deleted while anything names it."""

    form = TeamThroughService
    list_display = ("name", "manager")
    list_select_related = ("manager",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else ("name",)

    def save_model(
        self, request: HttpRequest, obj: Team, form: Any, change: bool
    ) -> None:
        # The form saved it through the service; show what is stored now.
        obj.refresh_from_db()

    def kept_by(self, obj: Team) -> list[str]:
        return team_kept_by(obj)


def team_kept_by(team: Team) -> list[str]:
    """Lines naming what keeps `team` from being deleted, the first saying
    what to do instead; none when nothing does. Five queries, and one per
    pipeline with routing rules."""
    held = [*_members(team), *_owned_by_team(team)]
    if not held:
        return []
    first = (
        f"team {team.name} is kept: move its people to another team (Team on "
        "their change page, or dealgate user set USERNAME --team OTHER) and "
        "give its stages, handoffs and routing rules another owner (in the "
        "builder or the pipeline file); then it can be deleted"
    )
    return [first, *held]


def _members(team: Team) -> list[str]:
    people = team.members.order_by("username")
    total = people.count()
    lines = []
    if total:
        names = ", ".join(p.username for p in people.only("username")[:NAMED])
        more = f" and {total - NAMED:,} more" if total > NAMED else ""
        lines.append(f"team {team.name} has {counted(total, 'member')}: {names}{more}")
    if team.manager_id is not None:
        lines.append(f"team {team.name} is led by {team.manager.username}")
    return lines


def _owned_by_team(team: Team) -> list[str]:
    """Stages it owns, handoffs it answers for and routing rules that send
    leads to it: a pipeline file names it there as team:NAME."""
    lines = [
        f"team {team.name} owns stage {stage.name!r} of pipeline {stage.pipeline}"
        for stage in Stage.objects.filter(owner_team=team)
        .select_related("pipeline")
        .order_by("pipeline_id", "position")
    ]
    lines.extend(
        f"team {team.name} is responsible for the handoff into "
        f"{handoff.to_stage.name!r} of pipeline {handoff.pipeline}"
        for handoff in Handoff.objects.filter(responsible=f"team:{team.name}")
        .select_related("pipeline", "to_stage")
        .order_by("pk")
    )
    lines.extend(
        f"routing rules of pipeline {pipeline} send leads to team {team.name}"
        for pipeline in Pipeline.objects.order_by("pk").only("pk", "name", "settings")
        if _routes_to(pipeline, team.name, team=True)
    )
    return lines


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
