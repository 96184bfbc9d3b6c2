"""Refuse a request whose address, query string, form or cookies hold a
control character they can never hold (dealgate.core.controls), before any
view reads them.

Without it a NUL in `?owner=` reached a query: PostgreSQL failed with a 500
("cannot contain NUL") where SQLite answered 404 or 422. Here every page and
the API answer the same on both databases: a page with the site's 400 page
naming the parameter, the API with 422 in its error family. JSON bodies are
checked by the API's reader (dealgate.api.parser), files by their own readers (a
pipeline file, a CSV import), which name the line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from dealgate.core.controls import IN_NAME, IN_TEXT, NUL, control_in
from dealgate.errors import ValidationError

from .encoding import undecodable_form
from .errors import on_public_form, refused

log = logging.getLogger("dealgate.web")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ControlCharactersMiddleware:
    """400 (422 under /api/) for a control character in any value the
    request carries outside its body's JSON or files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            # Before the form is read: Django refuses one that declares
            # another charset, and reads one sent in another lossily.
            undecodable = undecodable_form(request)
            if undecodable is not None:
                log.info("%s %r refused: %s", request.method, request.path, undecodable)
                if on_public_form(request):
                    # The website's form says so itself, at its inputs, and
                    # lets the visitor send it again from its own page.
                    request.undecodable_form = undecodable  # type: ignore[attr-defined]
                    return self.get_response(request)
                return refused(request, 422, undecodable.message)
        problem = find_control(request)
        if problem is None:
            return self.get_response(request)
        log.info("%s %r refused: %s", request.method, request.path, problem.message)
        if request.path.startswith("/api/"):
            return JsonResponse(problem.as_dict(), status=problem.status)
        return refused(request, 400, problem.message)


def find_control(request: HttpRequest) -> ValidationError | None:
    """The first control character the request's address, query string,
    cookies, form fields or uploaded files' names may not hold, as the error
    to answer. Reading the form here is what CSRF's check does next anyway:
    a body Django cannot parse raises as it would there (400)."""
    where = control_in(request.path, IN_NAME)
    if where:
        return ValidationError(
            f"the address holds a control character ({where})", field="address"
        )
    parts = [("query parameter", request.GET.lists(), IN_TEXT)]
    parts.append(("cookie", _own_cookies(request), IN_NAME))
    # The API reads only JSON (dealgate.api.parser checks it); parsing a
    # multipart body here would leave it no body to refuse as not JSON.
    is_api = request.path.startswith("/api/")
    if request.method == "POST" and request.content_type in FORM_TYPES and not is_api:
        # Other controls in a form's text are the field's own rule, which
        # the page shows at its input (dealgate.core.text).
        parts.append(("form field", request.POST.lists(), NUL))
        names = (
            (field, [upload.name or "" for upload in uploads])
            for field, uploads in request.FILES.lists()
        )
        parts.append(("name of the file in the field", names, IN_NAME))
    for kind, pairs, pattern in parts:
        for name, values in pairs:
            problem = _in_pair(kind, name, values, pattern)
            if problem:
                return problem
    return None


def _own_cookies(request: HttpRequest) -> Iterator[tuple[str, list[str]]]:
    # Only those Dealgate reads: another site on the same host may set its
    # own cookies as it likes, and they must not lock a user out here.
    own = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages")
    for name in own:
        if name in request.COOKIES:
            yield name, [request.COOKIES[name]]


def _in_pair(
    kind: str, name: str, values: list[str], pattern: re.Pattern[str]
) -> ValidationError | None:
    where = control_in(name, IN_NAME)
    if where:
        return ValidationError(
            f"a {kind} name holds a control character ({where}): {name!r}",
            field=name,
        )
    for value in values:
        where = control_in(value, pattern)
        if where:
            return ValidationError(
                f"the {kind} {name} holds a control character ({where})",
                field=name,
            )
    return None
