"""Django's admin site, its sign-in limited as the login page's is."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from .forms import AdminSignInForm
from .views import refused_if_locked


class DealgateAdminSite(admin.AdminSite):
    login_form = AdminSignInForm

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().login(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        return refused_if_locked(response, context.get("form"))
