from django.contrib import admin

from .models import ApiToken, Availability, DedupDecision, Lead, LeadAssignment


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
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


admin.site.register(DedupDecision)
admin.site.register(LeadAssignment)
