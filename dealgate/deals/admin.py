from django.contrib import admin

from .models import Activity, Deal, Organization, Person, Product, StageEvent

admin.site.register(Organization)
admin.site.register(Person)
admin.site.register(Product)
admin.site.register(Activity)


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ("title", "organization", "stage", "status", "owner", "value")
    list_filter = ("status", "pipeline", "stage")
    search_fields = ("title", "external_id")


@admin.register(StageEvent)
class StageEventAdmin(admin.ModelAdmin):
    list_display = ("deal", "from_stage", "to_stage", "to_status", "at", "by")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the history is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
