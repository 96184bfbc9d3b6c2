"""Leads in the admin: token names and away times are set here, tokens
revoked; leads and their history are shown, never changed. A lead's own
fields are edited on its page, which "View on site" opens, through the
checks, keys and version of `dealgate.leads.edits`.

A lead's status, owner and response times change with its assignment history
and its clocks (dealgate.leads.services), and its match keys are derived from
what it was captured with: a row changed here would leave them behind.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from dealgate.deals.admin import ViewOnlyAdmin

from .models import ApiToken, Availability, DedupDecision, Lead, LeadAssignment
from .tokens import revoke_token


@admin.register(Lead)
class LeadAdmin(ViewOnlyAdmin):
    list_display = ("id", "name", "company", "status", "owner", "source", "created_at")
    list_filter = ("status", "pipeline", "channel")
    search_fields = ("name", "company", "email_key", "external_id")

    def view_on_site(self, obj: Lead) -> str:
        return reverse("leads:lead", args=[obj.pk])


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = ("user", "away_from", "away_until", "capacity")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "scope",
        "pipeline",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    # The hash is useless to a person and the secret is never stored.
    exclude = ("key_hash",)
    # A token acts as its person: it is never handed to another one, and a
    # revoked token never works again (`dealgate token revoke`, or the action
    # here, which revokes through the same service), and what it opens is
    # fixed when it is made: a token given to a website for leads must not
    # be widened later without whoever holds it knowing, nor sent to another
    # pipeline. Only its name changes.
    readonly_fields = (
        "user",
        "prefix",
        "scope",
        "pipeline",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made with `dealgate token create`

    @admin.action(description="Revoke selected API tokens")
    def revoke(self, request: HttpRequest, tokens: QuerySet[ApiToken]) -> None:
        ids = list(tokens.filter(revoked_at=None).values_list("pk", flat=True))
        for token_id in ids:
            revoke_token(token_id)
        self.message_user(request, f"{len(ids)} API token(s) revoked.")


@admin.register(DedupDecision)
class DedupDecisionAdmin(ViewOnlyAdmin):
    """Why an inquiry joined a lead or deal; a split (on the lead's page)
    undoes one from it."""

    list_display = ("action", "matched_on", "lead", "deal", "at", "undone_at")
    list_filter = ("action", "matched_on")
    raw_id_fields = ("lead", "deal", "source_lead")


@admin.register(LeadAssignment)
class LeadAssignmentAdmin(ViewOnlyAdmin):
    """Who a lead went to, when and why: its append-only history."""

    list_display = ("lead", "owner", "rule", "at", "by")
    raw_id_fields = ("lead",)
