"""Who makes an API request: an API token, else a signed-in session.

Every endpoint takes either, and the request acts as that person: the
services check what they may do, as on the pages.

A token opens what its scope says (`ApiToken.scope`, `tokens.SCOPES`, each
opening more than the one before): `capture` only the capture of a lead
(POST /api/v1/leads), `leads` every lead endpoint, `leads,deals` the deals
endpoints too. Tokens are made for websites' lead forms above all, where
anyone who reads the page can copy them; such a token elsewhere is refused
(403) naming its scope, the scope the endpoint needs and how to make a
token that has it. A capture-only token is also told nothing of the leads
already there when it captures (dealgate.api.leads).

A request that sends an Authorization header is judged by its token alone,
and a wrong one is a 401, even with a session cookie beside it. A token
sends no cookie a browser could attach on another site's behalf, so it
needs no CSRF token; a signed-in session's POST must send one (403
without). With neither: 401.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import REASON_NO_CSRF_COOKIE, CsrfViewMiddleware
from ninja.security import APIKeyCookie, HttpBearer

from dealgate.errors import PermissionDenied
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import OPENS, TokenUse, read_token
from dealgate.web.head import method_named

log = logging.getLogger("dealgate.api")


class TokenAuth(HttpBearer):
    """`Authorization: Bearer dg_...`: the token's user makes the request,
    if the token's scope opens what `needs` opens. The request keeps the
    token's scope as `token_scope` (a session's request has none)."""

    def __init__(self, *, needs: str) -> None:
        super().__init__()
        self.needs = str(needs)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        use = read_token(token)
        if use is None:
            return None
        if not use.opens(self.needs):
            raise _outside_scope(request, use, self.needs)
        request.user = use.user
        request.token_scope = use.scope
        request.token_pipeline = use.pipeline_key
        request.token_id = use.token_id
        return use.user


def token_scope(request: HttpRequest) -> str | None:
    """The scope of the token a request was made with; None for a session."""
    return getattr(request, "token_scope", None)


def token_id(request: HttpRequest) -> int | None:
    """The id of the token a request was made with, as `dealgate token list`
    shows it; None for a session."""
    return getattr(request, "token_id", None)


def token_pipeline(request: HttpRequest) -> str | None:
    """The key of the pipeline the request's token is bound to; None for an
    unbound token or a session."""
    return getattr(request, "token_pipeline", None)


def _outside_scope(request: HttpRequest, use: TokenUse, needs: str) -> PermissionDenied:
    log.info(
        "refused %s %s: API token %s has the scope %s, the endpoint needs %s",
        method_named(request),
        request.path,
        use.token_id,
        use.scope,
        needs,
    )
    return PermissionDenied(
        f"API token {use.token_id} has the scope {use.scope!r}: it opens "
        f"{OPENS.get(use.scope, 'nothing')}, not {method_named(request)} "
        f"{request.path}, which needs the scope {needs!r}. A token that opens "
        f"it is made with `dealgate token create {use.user.username} --scope "
        f"{needs}`"
    )


class SessionAuth(APIKeyCookie):
    """A signed-in browser session. Unlike django-ninja's own, it checks the
    CSRF token only once it knows there is a session: a caller with no
    session, or with an Authorization header (a token that failed), is
    not authenticated (401), not refused for CSRF (403)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if "HTTP_AUTHORIZATION" in request.META or not request.user.is_authenticated:
            return None
        reason = csrf_refusal(request)
        if reason is not None:
            raise _csrf_refused(request, reason)
        return request.user


class _CsrfReason(CsrfViewMiddleware):
    """Django's CSRF check, giving its reason for a refusal rather than the
    page it would answer."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _checked_view(request: HttpRequest) -> None:
    """What the CSRF check is run for: a view that is not exempt."""


def csrf_refusal(request: HttpRequest) -> str | None:
    """Django's reason to refuse `request` for CSRF (its own words, such as
    "CSRF token missing."), or None when it passes."""
    check = _CsrfReason(lambda _: None)
    request.csrf_processing_done = False  # type: ignore[attr-defined]
    check.process_request(request)
    return check.process_view(request, _checked_view, (), {})


def _csrf_refused(request: HttpRequest, reason: str) -> PermissionDenied:
    """The 403 for a signed-in call refused for CSRF, naming what failed and
    the method, as `reason` (Django's) says."""
    method = method_named(request)
    if reason.startswith("Origin checking failed"):
        origin = request.META.get("HTTP_ORIGIN", "")
        why = (
            f"its Origin header ({origin!r}) is not this site's address; a "
            f"signed-in {method} must come from a page of this site (or use an "
            "API token)"
        )
    elif reason.startswith("Referer checking failed"):
        why = (
            f"a signed-in {method} over HTTPS without an Origin header must send "
            "a Referer header on this site's address"
        )
    elif reason == REASON_NO_CSRF_COOKIE:
        why = (
            f"a signed-in {method} must send the csrftoken cookie, which any "
            "page of this site sets, and its value in the X-CSRFToken header"
        )
    else:
        why = (
            f"a signed-in {method} must send the csrftoken cookie's value in the "
            "X-CSRFToken header"
        )
    log.info("refused %s %s: %s", method, request.path, reason)
    return PermissionDenied(f"CSRF check failed: {why}")


_session = SessionAuth()
# Each: a token whose scope opens the endpoints first, else a session.
# The capture of a lead (POST /api/v1/leads): any live token.
CAPTURE_AUTH = [TokenAuth(needs=ApiToken.Scope.CAPTURE), _session]
# The other lead endpoints, and the API's default.
API_AUTH = [TokenAuth(needs=ApiToken.Scope.LEADS), _session]
# The deals endpoints.
DEALS_AUTH = [TokenAuth(needs=ApiToken.Scope.LEADS_AND_DEALS), _session]
