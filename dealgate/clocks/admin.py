"""Clocks and notices in the admin: for looking, rarely for changing.

Clocks are started, stopped and swept by the services as deals and leads move
(dealgate.clocks.services): one changed here would breach, or never breach,
out of step with its deal, so the admin only shows them.
"""

from django.contrib import admin

from dealgate.deals.admin import ViewOnlyAdmin

from .models import Clock, Delivery, Notice


@admin.register(Clock)
class ClockAdmin(ViewOnlyAdmin):
    list_display = ("key", "kind", "state", "responsible", "due_at", "at_risk")
    list_filter = ("kind", "state", "at_risk")
    search_fields = ("key",)
    raw_id_fields = ("deal", "lead", "activity", "responsible")
    date_hierarchy = "due_at"


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "user", "created_at", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("user", "deal", "lead", "clock")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("notice", "channel", "state", "attempts", "next_attempt_at")
    list_filter = ("channel", "state")
    raw_id_fields = ("notice",)
