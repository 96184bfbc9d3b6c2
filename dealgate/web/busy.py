"""A request that cannot write because another process holds the database.

On SQLite one writer at a time holds the whole database: while a long import
runs, every other write waits for the connection's busy timeout and then
fails with "database is locked". Without this middleware that failure is a
bare 500, and a website visitor cannot tell that their message was lost.
With it the answer is 503 with Retry-After: the lead form's own page says
the message was not received, the API answers in its error family, and any
other page says that nothing was saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dealgate.errors import Busy

log = logging.getLogger("dealgate.web")

# Seconds a client is asked to wait before sending the request again.
RETRY_AFTER = 60
# SQLite's messages for a lock another connection holds: "database is
# locked" after the busy timeout, "database table is locked" at once when
# connections share a cache (as the in-memory test database does).
_LOCKED = ("database is locked", "database table is locked")


def is_busy(exc: BaseException) -> bool:
    """True for the error of a write another connection's lock refused."""
    return isinstance(exc, OperationalError) and str(exc).startswith(_LOCKED)


class DatabaseBusyMiddleware:
    """Turns a refused write (`is_busy`) into a 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_busy(exception):
            return None
        return refused(request, exception)


def refused(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 503 with Retry-After for a write `exception` says was refused, logged."""
    log.warning(
        "%s %s refused: the database is busy with another writer (%s)",
        request.method,
        request.path,
        exception,
    )
    response = busy_response(request)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


def busy_response(request: HttpRequest) -> HttpResponse:
    """The 503 page or JSON error for `request`, without its Retry-After."""
    match = request.resolver_match
    namespace = match.namespace if match is not None else ""
    if namespace == "api" or request.path.startswith("/api/"):
        error = Busy(
            "the database is busy with another write, such as an import; "
            "nothing was saved; send the request again in a minute"
        )
        return JsonResponse(error.as_dict(), status=error.status)
    form = match is not None and match.view_name == "leads:form"
    template = "leads/form_busy.html" if form else "web/busy.html"
    context = {"retry_minutes": max(1, RETRY_AFTER // 60)}
    return render(request, template, context, status=Busy.status)
