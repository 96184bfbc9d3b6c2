"""Who makes an API request: an API token, else a signed-in session.

Every endpoint takes either, and the request acts as that person: the
services check what they may do, as on the pages.

A token opens what its scope says (`ApiToken.scope`): every token opens the
lead endpoints, and only one made to open the deals too
(`dealgate token create USER --scope leads,deals`) opens the deals
endpoints. Tokens were first made for websites' lead forms, where anyone
who reads the page can copy them; such a token on a deals endpoint is
refused (403) naming its scope and how to make one that opens them.

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
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from dealgate.errors import PermissionDenied
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import TokenUse, read_token

log = logging.getLogger("dealgate.api")


class TokenAuth(HttpBearer):
    """`Authorization: Bearer dg_...`: the token's user makes the request,
    if the token's scope opens the endpoint (`deals`: the deals endpoints)."""

    def __init__(self, *, deals: bool = False) -> None:
        super().__init__()
        self.deals = deals

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        use = read_token(token)
        if use is None:
            return None
        if self.deals and not use.opens_deals:
            raise _outside_scope(request, use)
        request.user = use.user
        return use.user


def _outside_scope(request: HttpRequest, use: TokenUse) -> PermissionDenied:
    log.info(
        "refused %s %s: API token %s opens only %s",
        request.method,
        request.path,
        use.token_id,
        use.scope,
    )
    return PermissionDenied(
        f"API token {use.token_id} has the scope {use.scope!r}: it opens the "
        "lead endpoints only, not the deals endpoints. A token that opens "
        "them too is made with `dealgate token create "
        f"{use.user.username} --scope {ApiToken.Scope.LEADS_AND_DEALS}`"
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
        if check_csrf(request) is not None:
            raise PermissionDenied(
                "CSRF check failed: a signed-in POST must send the csrftoken "
                "cookie's value in the X-CSRFToken header"
            )
        return request.user


_session = SessionAuth()
# The lead endpoints': any live token first, else a signed-in session.
API_AUTH = [TokenAuth(), _session]
# The deals endpoints': a token whose scope opens the deals, else a session.
DEALS_AUTH = [TokenAuth(deals=True), _session]
