"""The REST API under /api/v1/, its schema at /api/v1/openapi.json."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaError

from dealgate.core.text import agreeing
from dealgate.errors import (
    Conflict,
    DealgateError,
    MethodNotAllowed,
    NotFound,
)
from dealgate.web import busy
from dealgate.web.busy import is_busy
from dealgate.web.head import method_named

from . import deals, leads
from .auth import API_AUTH, DEALS_AUTH
from .parser import (
    CheckedParser,
    body_too_big,
    refuse_unknown_queries,
    refuse_unread_bodies,
)

log = logging.getLogger("dealgate.api")

api = NinjaAPI(
    title="Dealgate API",
    version="1",
    urls_namespace="api",
    auth=API_AUTH,
    parser=CheckedParser(),
)


@api.exception_handler(DealgateError)
def render_error(request: HttpRequest, exc: DealgateError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


# Where a request's parts sit in django-ninja's error locations: dropped, so
# that `field` is the body's own key ("due_at"), as in DealgateError's.
_PARTS = {"body", "payload", "query", "path", "header", "cookie", "form"}


@api.exception_handler(SchemaError)
def render_schema_error(request: HttpRequest, exc: SchemaError) -> HttpResponse:
    """A body, query or path value of the wrong type or missing, or a key a
    body may not hold: 422 in the error family, naming each field, instead
    of django-ninja's list."""
    problems, unknown = [], []
    for error in exc.errors:
        where = [str(part) for part in error.get("loc", ()) if part not in _PARTS]
        field = ".".join(where) or "body"
        if error.get("type") == "extra_forbidden":
            unknown.append(field)
        else:
            problems.append((field, f"{field}: {error.get('msg', 'is not valid')}"))
    if unknown:
        # Refused rather than dropped, so that nothing sent is silently lost.
        fields = agreeing(len(unknown), "field")
        problems.append((unknown[0], f"unknown {fields} {', '.join(unknown)}"))
    message = "; ".join(text for _, text in problems)
    return api.create_response(
        request,
        {"code": "invalid", "message": message, "field": problems[0][0]},
        status=422,
    )


@api.exception_handler(HttpError)
def render_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """django-ninja's own refusals in the error family: what the body's
    parser refused (a body that is not JSON, say) as it said it, the rest
    with their status; authentication has its own handler below."""
    if isinstance(exc, AuthenticationError):
        return render_unauthenticated(request, exc)
    if isinstance(exc.__cause__, DealgateError):
        # django-ninja wraps what the body's parser refused (api.parser).
        return render_error(request, exc.__cause__)
    code = "forbidden" if exc.status_code == 403 else "bad_request"
    return api.create_response(
        request, {"code": code, "message": str(exc)}, status=exc.status_code
    )


@api.exception_handler(OperationalError)
def render_clash(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """A deadlock or a serialisation failure with another writer: the
    database undid this request, which may simply be sent again (409 in the
    error family, as for a stale version). A write another process's lock
    refused is a 503 (`web.busy`); anything else stays a 500."""
    if is_busy(exc):
        # Another process holds SQLite's write lock (an import): 503 with
        # Retry-After, as the busy middleware answers outside the API.
        return busy.refused(request, exc)
    text = str(exc)
    if not text.startswith(("deadlock detected", "could not serialize")):
        return render_unexpected(request, exc)
    return render_error(
        request,
        Conflict(
            "another change to the same records happened at the same moment "
            "and this one was undone; send it again"
        ),
    )


SERVER_ERROR = {
    "code": "server_error",
    "message": "the server failed to answer this request; the error is logged "
    "for its administrator",
}


@api.exception_handler(Exception)
def render_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Any other error, a fault of ours: 500 in the error family, never
    Django's HTML page nor a traceback (even with DEBUG on); the traceback
    goes to the log, with the request it failed."""
    log.error(
        "%s %s failed: %s",
        request.method,
        request.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return api.create_response(request, SERVER_ERROR, status=500)


@api.exception_handler(RequestDataTooBig)
def render_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """A body past Django's upload limit, in the error family (not an HTML
    page)."""
    return render_error(request, body_too_big(request))


@api.exception_handler(AuthenticationError)
def render_unauthenticated(
    request: HttpRequest, exc: AuthenticationError
) -> HttpResponse:
    """401 in the error family, saying whether the token or its absence
    failed."""
    if "HTTP_AUTHORIZATION" in request.META:
        message = "the API token is unknown, revoked, or its user is inactive"
    else:
        message = "sign in, or send Authorization: Bearer <API token>"
    response = api.create_response(
        request, {"code": "unauthenticated", "message": message}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


for router in (deals.router, leads.router):
    refuse_unread_bodies(router)
    refuse_unknown_queries(router)
# A token opens the deals endpoints only if its scope says so (api.auth).
api.add_router("/deals", deals.router, auth=DEALS_AUTH)
api.add_router("/leads", leads.router)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A 404 under /api/ in the API's error family, as JSON, since a client
    reads no HTML page (the site's `handler404`, dealgate.web.errors, sends
    those here); elsewhere Django's page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return _json_error(request, 404)


class ApiErrorsMiddleware:
    """Every error under /api/ in the API's error family, as JSON.

    The API's handlers above answer what its views raise. What is answered
    around them comes here as HTML: django-ninja's 405 for a method an
    address does not take, and Django's own pages for a request refused
    before the API ran (a 400 for a host not allowed, a 500 from a failing
    middleware; with DEBUG on, 404 and 500 pages with a traceback). Each
    becomes JSON with its status and its other headers (Allow, Retry-After)
    kept. A HEAD's answer under /api/ has its GET's headers and no body.
    First in MIDDLEWARE, so that it sees every answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            return response
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return _headless(request, response)
        allowed = response.get("Allow", "")
        answer = _json_error(request, response.status_code, allowed)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                answer[header] = value
        answer["Content-Length"] = str(len(answer.content))
        return _headless(request, answer)


def _headless(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A HEAD's answer as its GET's headers, Content-Length too, and no
    body (the API's own views already answer so: dealgate.api.urls)."""
    if request.method != "HEAD" or response.streaming or not response.content:
        return response
    if not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    response.content = b""
    return response


def _json_error(request: HttpRequest, status: int, allowed: str = "") -> HttpResponse:
    """The error family's answer for a `status` Django or django-ninja gave
    without one; `allowed` is a 405's Allow header. A HEAD's message names
    GET, so that its Content-Length is its GET's."""
    method = method_named(request)
    if status == 404:
        error = NotFound(f"no API endpoint at {method} {request.path}")
        return JsonResponse(error.as_dict(), status=status)
    if status == 405:
        methods = ", ".join(sorted(m.strip() for m in allowed.split(",") if m.strip()))
        error = MethodNotAllowed(
            f"{method} is not allowed at {request.path}; it takes {methods}"
        )
        return JsonResponse(error.as_dict(), status=status)
    if status >= 500:
        return JsonResponse(SERVER_ERROR, status=status)
    try:
        phrase = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = str(status)
    code = "forbidden" if status == 403 else "bad_request"
    message = f"the server refused this request ({phrase})"
    return JsonResponse({"code": code, "message": message}, status=status)
