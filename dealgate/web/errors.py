"""The site's own pages for a request that fails: 400, 403, 404 and 500.

Django's are bare pages (and its CSRF page has an inline style the site's
policy refuses). These say what happened in plain words, in the site's
layout, and where to go next: the board when signed in, the sign-in when
not. They show nothing of the request (no path, no exception's text, no
trace), but for a request a page refuses itself (`refused`) what was wrong
with it in the refusal's own words: which parameter, which value. Under
the website's lead form (/leads/form/) a stranger gets no top bar and no
links into the app, as the form's own pages have none.

The 500 page renders from the template alone, without the request's context
processors, the session or the signed-in user: it must show while the
database is down, when those would fail too.

Django reads a form's body only when a view first asks for it, and refuses
one larger than DATA_UPLOAD_MAX_MEMORY_SIZE or with more fields than
DATA_UPLOAD_MAX_NUMBER_FIELDS as a bad request. A visitor who pasted a long
message into the website's lead form deserves to be told what was wrong:
the too-large body gets 413 and the limit, too many fields 400 and theirs.
Under /api/ the API's middleware turns every one of these into JSON.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse

log = logging.getLogger("dealgate.web")

# What each status says, as (title, heading, text).
_PAGES = {
    400: (
        "Bad request",
        "This request could not be read",
        "Your browser sent something this site could not understand, so "
        "nothing was saved. Go back, reload the page and try again.",
    ),
    403: (
        "Not allowed",
        "You may not open this page",
        "Your account does not give you access to it. If you need it, ask "
        "whoever runs Dealgate for your team.",
    ),
    404: (
        "Not found",
        "There is no page here",
        "Nothing is at this address: the link may be mistyped, or what it "
        "pointed to has been removed.",
    ),
}
# A stranger on the website's form is told about the form, not the app.
_PUBLIC_NOT_FOUND = (
    "Not found",
    "There is no form here",
    "Nothing is at this address. Check the link to the form you were given.",
)


class Missing(Http404):
    """A page's own "not found", whose message names what is missing
    ("person: no one called 'rep3' in your view"): the site's 404 page shows
    it. Django's own 404s (an unknown address, `get_object_or_404`) keep the
    page's general words. `words` (title, heading, text) replace the
    page's own where "there is no page here" would mislead: someone asked
    for by name who has left still has the name."""

    def __init__(
        self, problem: str, *, words: tuple[str, str, str] | None = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.words = words


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler400`: a body too large or with too many fields says which
    limit it passed; anything else gets Django's own page."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        status, problem = 413, f"larger than the {limit // 1024:,} KB this site takes"
    elif isinstance(exception, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        status, problem = 400, f"more than the {limit:,} fields this site takes"
    else:
        return error_page(request, 400)
    log.info(
        "refused %s %s: the form sent is %s", request.method, request.path, problem
    )
    text = (
        f"What you sent is {problem}, so nothing was saved. Please shorten it "
        "and send it again."
    )
    return error_page(request, status, ("Not sent", "The form was not sent", text))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler403`."""
    return error_page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: under /api/ the API's JSON answer, elsewhere the site's
    page, the website form's own under its addresses; a page's own refusal
    (`Missing`) with what was not found."""
    if request.path.startswith("/api/"):
        from dealgate.api.routes import page_not_found as api_not_found

        return api_not_found(request, exception)
    if on_public_form(request):
        return error_page(request, 404, _PUBLIC_NOT_FOUND)
    if not isinstance(exception, Missing):
        return error_page(request, 404)
    return error_page(request, 404, exception.words, problem=exception.problem)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: rendered from the template alone, with no context
    processor, session or user, so it shows while the database is down."""
    page = loader.get_template("web/server_error.html")
    html = page.render({"public": on_public_form(request)})
    return HttpResponse(html, status=500)


def refused(request: HttpRequest, status: int, problem: str) -> HttpResponse:
    """The site's page for a request that a page, or a check before it,
    refuses itself (400, 403, or 411 for a body of unknown length): the
    status's own words, then `problem`, the refusal's words for what was
    wrong (a parameter, a value), escaped as any text is. The one way a page
    answers 400 or 403 of its own; the API answers JSON instead."""
    words = _PAGES[status] if status in _PAGES else _PAGES[400]
    return error_page(request, status, words, problem=problem)


def error_page(
    request: HttpRequest,
    status: int,
    words: tuple[str, str, str] | None = None,
    *,
    problem: str = "",
) -> HttpResponse:
    """The site's page for `status`, in its layout, with `words` (title,
    heading, text) or the status's own, and `problem` below them if any.
    Reads the signed-in user, so not for a 500."""
    title, heading, text = words or _PAGES[status]
    context = {
        "title": title,
        "heading": heading,
        "text": text,
        "problem": problem.rstrip("."),
        "public": on_public_form(request),
    }
    return render(request, "web/error.html", context, status=status)


def on_public_form(request: HttpRequest) -> bool:
    """Whether `request` is under the website's lead form, which strangers
    open: its pages show no top bar and no way into the app."""
    form = reverse("leads:form", kwargs={"pipeline_key": "k"})
    return request.path.startswith(form.removesuffix("k/"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`CSRF_FAILURE_VIEW`: a form sent with a token that no longer holds
    (signed in again in another tab, a page left open past its session)
    gets the site's page saying what to do, not Django's bare one, whose
    inline style the site's policy refuses. Under /api/ the API's
    middleware answers JSON instead."""
    log.info("refused %s %s: %s", request.method, request.path, reason)
    context = {"public": on_public_form(request)}
    return render(request, "web/csrf_failure.html", context, status=403)
