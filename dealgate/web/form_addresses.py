"""A visit to an address that only takes a form, led back to the form's page.

A refused move or edit leaves its form's address (/deals/7/move/) in the
browser's address bar; pressing Enter there, or opening it from the history,
is a GET, which the view refuses with a bare 405 that the browser shows as
its own blank error. Every such address is named here with the page its form
is on, and a GET or HEAD of it is sent there instead, in one place for every
app, so a new POST-only view needs one line here rather than a handler of its
own (tests/web/test_form_addresses.py fails for one left out).

A POST-only address not named here gets the site's own 405 page, which says
what happened and links back to the board. Under /api/ a 405 stays the API's
JSON answer: a program, not a person, reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import NoReverseMatch, reverse

from .errors import error_page

log = logging.getLogger("dealgate.web")

# The address's URL name, then the URL name of the page its form is on and
# which of the address's arguments that page takes.
_DEAL = ("deal", ("deal_id",))
_LEAD = ("leads:lead", ("lead_id",))
_DRAFT = ("builder:edit", ("key",))
_STAGE = ("builder:stage", ("key", "stage_key"))
FORM_PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "logout": ("board", ()),
    "deal-move": _DEAL,
    "deal-edit": _DEAL,
    "deal-activity": _DEAL,
    "deal-task-done": _DEAL,
    "notices-read": ("notices", ()),
    "builder:create": ("builder:index", ()),
    "builder:edit-pipeline": _DRAFT,
    "builder:add-stage": _DRAFT,
    "builder:move-stage": _DRAFT,
    "builder:remove-stage": _DRAFT,
    "builder:handoffs": _DRAFT,
    "builder:add-handoff": _DRAFT,
    "builder:discard": _DRAFT,
    "builder:add-criterion": _STAGE,
    "builder:edit-criterion": _STAGE,
    "builder:blueprint-draft": ("builder:blueprint", ("key",)),
    "leads:offer": _LEAD,
    "leads:task-done": _LEAD,
    "leads:activity": _LEAD,
    "leads:assign": _LEAD,
    "leads:convert": _LEAD,
    "leads:disqualify": _LEAD,
    "leads:merge": _LEAD,
    "leads:split": ("leads:decisions", ()),
    "leads:notices-read": ("leads:inbox", ()),
    "admin:logout": ("admin:index", ()),
}

_ONLY_A_FORM = (
    "Not a page",
    "This address takes a form, not a visit",
    "It is where a form on another page sends what you fill in, so there is "
    "nothing to show here and nothing was saved. Go back to that page and "
    "send the form again.",
)


class FormAddressMiddleware:
    """Turns a view's 405 to a GET or HEAD outside /api/ into a redirect to
    the page of the address's form (`FORM_PAGES`), or the site's 405 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not isinstance(response, HttpResponseNotAllowed)
            or request.method not in ("GET", "HEAD")
            or request.path.startswith("/api/")
        ):
            return response
        page = form_page(request)
        if page is None:
            log.info("a visit to %s, which only takes a form", request.path)
            refused = error_page(request, 405, _ONLY_A_FORM)
            refused["Allow"] = response["Allow"]
            return refused
        return HttpResponseRedirect(page)


def form_page(request: HttpRequest) -> str | None:
    """The address of the page whose form posts to `request`'s address, or
    None when the address is not in `FORM_PAGES`."""
    match = request.resolver_match
    if match is None or match.view_name not in FORM_PAGES:
        return None
    page, names = FORM_PAGES[match.view_name]
    try:
        return reverse(page, kwargs={name: match.kwargs[name] for name in names})
    except (KeyError, NoReverseMatch):
        # A table line out of step with the URL patterns: the site's 405
        # page still tells the person what happened.
        log.exception("no page for the form address %s", match.view_name)
        return None
