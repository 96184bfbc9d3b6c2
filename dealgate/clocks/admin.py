"""Clocks, notices and their deliveries in the admin: shown, never changed.

Clocks are started, stopped and swept by the services as deals and leads move
(dealgate.clocks.services): one changed here would breach, or never breach,
out of step with its deal, so the admin only shows them.

Notices and deliveries are the record of what was told to whom, and when it
went out by mail or webhook: one edited, added or deleted here would make
that record say what never happened, or make the sender send a notice again
or never. So they are neither added, changed nor deleted here. A person reads
their notices on /notices/; `dealgate notices status` counts the deliveries.
They go only with the person they were told to, when that person is deleted
(dealgate.accounts.admin).
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
class NoticeAdmin(ViewOnlyAdmin):
    list_display = ("title", "kind", "user", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "user__username")
    raw_id_fields = ("user", "deal", "lead", "clock")


@admin.register(Delivery)
class DeliveryAdmin(ViewOnlyAdmin):
    list_display = (
        "notice",
        "channel",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    )
    list_filter = ("channel", "state")
    raw_id_fields = ("notice",)
