"""Who makes an API request: an API token, else a signed-in session.

Every endpoint, deals and leads alike, takes either, and the request acts
as that person: the services check what they may do, as on the pages.

A request that sends an Authorization header is judged by its token alone
(`dealgate token create`), and a wrong one is a 401, even with a session
cookie beside it. A token sends no cookie a browser could attach on another
site's behalf, so it needs no CSRF token; a signed-in session's POST must
send one (403 without). With neither: 401.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from dealgate.errors import PermissionDenied
from dealgate.leads.tokens import user_for_token


class TokenAuth(HttpBearer):
    """`Authorization: Bearer dg_...`: the token's user makes the request."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


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


# Every endpoint's: an API token first, else a signed-in session.
API_AUTH = [TokenAuth(), SessionAuth()]
