"""The REST API under /api/v1/, its schema at /api/v1/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.security import django_auth

from dealgate.errors import DealgateError

from . import deals, leads

api = NinjaAPI(
    title="Dealgate API",
    version="1",
    urls_namespace="api",
    auth=django_auth,
)


@api.exception_handler(DealgateError)
def render_error(request: HttpRequest, exc: DealgateError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


api.add_router("/deals", deals.router)
api.add_router("/leads", leads.router)
