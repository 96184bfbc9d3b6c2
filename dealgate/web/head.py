"""A HEAD request changes nothing stored.

HEAD asks for what a GET would answer, without the body; a client (a link
checker, a monitor, a proxy warming its cache) sends it freely and expects
no effect. Some GETs write in passing as they read: the API records a
token's time of last use (dealgate.leads.tokens), and the insights pages
fold the rollups' change log (dealgate.insights.queries). Each such write
asks `answering_head()` first and is skipped for a HEAD, which then answers
exactly as its GET would: the token still opens the address, and the
insights read the log not folded yet. A page that shows messages ("Lead
converted into a deal.") marks them read as it renders them; for a HEAD
they stay unread, for the GET that shows them.

`HeadMiddleware` marks the request for the code below it, also while the
API runs a HEAD as the GET it stands for (dealgate.api.urls), where
`request.method` reads GET. Outside a request (commands, the sweeper)
nothing is a HEAD.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_answering_head: ContextVar[bool] = ContextVar("answering_head", default=False)


def answering_head() -> bool:
    """Whether the code runs for a HEAD request, which must write nothing."""
    return _answering_head.get()


@contextmanager
def head_request(is_head: bool = True) -> Iterator[None]:
    """Run the block as answering a HEAD (or not)."""
    token = _answering_head.set(is_head)
    try:
        yield
    finally:
        _answering_head.reset(token)


def method_named(request: HttpRequest) -> str:
    """The method an answer's message names: a HEAD as the GET it stands
    for, so that its headers (Content-Length among them) are the GET's."""
    return "GET" if request.method == "HEAD" else str(request.method)


class HeadMiddleware:
    """Marks a HEAD request for `answering_head()` while it is answered, and
    keeps the messages its page rendered unread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_head = request.method == "HEAD"
        with head_request(is_head):
            response = self.get_response(request)
        if is_head:
            _keep_messages(request)
        return response


def _keep_messages(request: HttpRequest) -> None:
    """Leave the request's messages as they were stored: MessageMiddleware,
    answering after this, then neither drops those the page rendered nor
    rewrites its cookie or the session."""
    storage = getattr(request, "_messages", None)
    if storage is not None:
        storage.used = False
