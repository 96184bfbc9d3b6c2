from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from .models import SignInFailures, Team, User


@admin.register(User)
class DealgateUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Dealgate", {"fields": ("role", "team", "calendar")}),
    )
    list_display = ("username", "first_name", "last_name", "role", "team")


admin.site.register(Team)


@admin.register(SignInFailures)
class SignInFailuresAdmin(admin.ModelAdmin):
    """Counts and locks of failed sign-ins: deleting a row lifts its lock
    (as `dealgate user unlock` does)."""

    list_display = ("scope", "key", "failures", "since", "locked_until")
    list_filter = ("scope",)
    search_fields = ("key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: SignInFailures | None = None
    ) -> bool:
        return False
