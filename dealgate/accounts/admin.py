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
