from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Team, User


@admin.register(User)
class DealgateUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Dealgate", {"fields": ("role", "team", "calendar")}),
    )
    list_display = ("username", "first_name", "last_name", "role", "team")


admin.site.register(Team)
