"""Where to send the browser when the request names the place: a form's
`back`, the sign-in's and sign-out's `next`.

One rule for every page that does this, so none of them becomes an open
redirect: the named place is followed only when Django's
`url_has_allowed_host_and_scheme` takes it for this site (a path such as
`/leads/decisions/`, or a full address on the host the request came to,
over https when the request is), and otherwise the page goes where it
would have gone had nothing been named.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def local_target(request: HttpRequest, target: str | None, default: str) -> str:
    """`target` if it is a place on this site, else `default`."""
    if target and url_has_allowed_host_and_scheme(
        target,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return target
    return default


def redirect_back(
    request: HttpRequest, target: str | None, default: str
) -> HttpResponseRedirect:
    """A redirect to `target` if it is a place on this site, else to
    `default` (the page's own next page)."""
    return HttpResponseRedirect(local_target(request, target, default))
