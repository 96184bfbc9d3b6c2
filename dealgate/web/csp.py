"""A Content-Security-Policy on every answer: scripts, styles, images and
fonts come from this site only, and no page runs inline script or style.

The pages are built for it: scripts are files (board.js, builder.js, htmx),
charts are SVG drawn with presentation attributes, a bar's length is an SVG
attribute rather than a `style`, and htmx is told not to add its indicator
styles (base.html). `data:` images are allowed for the icons Swagger UI's
stylesheet (/api/v1/docs) carries. A page that may be framed by other sites
(the website's lead form, `xframe_options_exempt`) leaves out
`frame-ancestors`; every other page says `'none'`, as X-Frame-Options DENY
does. A page whose form is answered with a redirect to another site (the
lead form's thank-you address) names that site in form-action
(`send_form_to`). A policy a view set itself is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)


def send_form_to(response: HttpResponse, address: str) -> None:
    """Let the page's form be answered with a redirect to `address`'s site
    (browsers check the redirect after a form is sent against form-action
    too): the lead form's thank-you page on the firm's own website."""
    parts = urlsplit(address)
    if parts.scheme in ("http", "https") and parts.netloc:
        response.csp_form_targets = [f"{parts.scheme}://{parts.netloc}"]


def policy_for(response: HttpResponse) -> str:
    """The policy for `response`: framing refused unless the view allows it,
    and its form sent nowhere but here unless the view said where."""
    policy = POLICY
    targets = getattr(response, "csp_form_targets", ())
    if targets:
        policy = f"{POLICY} {' '.join(targets)}"
    if getattr(response, "xframe_options_exempt", False):
        return policy
    return f"{policy}; frame-ancestors 'none'"


class ContentSecurityPolicyMiddleware:
    """Sets `policy_for(response)` on every answer that has no policy yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(response)
        return response
