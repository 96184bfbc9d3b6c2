"""Leads in the admin: tokens and away times are set here; leads and their
history are shown, never changed.

A lead's status, owner and response times change with its assignment history
and its clocks (dealgate.leads.services), and its match keys are derived from
what it was captured with: a row changed here would leave them behind.
"""

from django.contrib import admin

from dealgate.deals.admin import ViewOnlyAdmin

from .models import ApiToken, Availability, DedupDecision, Lead, LeadAssignment


@admin.register(Lead)
class LeadAdmin(ViewOnlyAdmin):
    list_display = ("id", "name", "company", "status", "owner", "source", "created_at")
    list_filter = ("status", "pipeline", "channel")
    search_fields = ("name", "company", "email_key", "external_id")


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = ("user", "away_from", "away_until", "capacity")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    # The hash is useless to a person and the secret is never stored.
    exclude = ("key_hash",)
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made with `dealgate token create`


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
