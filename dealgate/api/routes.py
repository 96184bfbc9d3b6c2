"""The REST API under /api/v1/, its schema at /api/v1/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from dealgate.errors import DealgateError

from . import deals, leads

api = NinjaAPI(
    title="Dealgate API",
    version="1",
    urls_namespace="api",
    auth=leads.session_auth,
)


@api.exception_handler(DealgateError)
def render_error(request: HttpRequest, exc: DealgateError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(AuthenticationError)
def render_unauthenticated(
    request: HttpRequest, exc: AuthenticationError
) -> HttpResponse:
    """401 in the error family, saying whether the token or its absence failed,
    and that API tokens open only the lead endpoints."""
    if not request.path.startswith(reverse("api:api-root") + "leads"):
        message = (
            "sign in: the deals API takes a signed-in session; API tokens open "
            "only the lead endpoints"
        )
    elif "HTTP_AUTHORIZATION" in request.META:
        message = "the API token is unknown, revoked, or its user is inactive"
    else:
        message = "sign in, or send Authorization: Bearer <API token>"
    response = api.create_response(
        request, {"code": "unauthenticated", "message": message}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


api.add_router("/deals", deals.router)
api.add_router("/leads", leads.router)
