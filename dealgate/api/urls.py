"""The API's addresses: django-ninja's, each answering HEAD wherever it
answers GET.

A body sent in chunks, with no Content-Length, is read whole before any
address runs, by the middleware that does so for every page
(dealgate.web.bodies): django-ninja takes a body that seems empty for none.

django-ninja routes a request by its method, and one for a method no
operation declares is a 405; HEAD is declared by none. Each address is
wrapped here instead: a HEAD request runs as the GET it stands for (the
same authentication, permission checks and status) and answers its headers,
Content-Length included, without the body. An address without GET still
answers HEAD 405, and every 405 whose Allow lists GET lists HEAD too.
A HEAD changes nothing stored, though its GET may record something as it
reads (a token's last use): dealgate.web.head marks the request as a HEAD
for those writes, also while it runs here as a GET.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from .routes import api

View = Callable[..., HttpResponse]


def with_head(view: View) -> View:
    """`view`, answering HEAD as GET without the body."""

    @wraps(view)  # keeps csrf_exempt, which django-ninja sets on its views
    def answer(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "HEAD":
            return _allowing_head(view(request, *args, **kwargs))
        request.method = "GET"
        try:
            response = view(request, *args, **kwargs)
        finally:
            request.method = "HEAD"
        response = _allowing_head(response)
        if not response.streaming:
            response["Content-Length"] = str(len(response.content))
            response.content = b""
        return response

    return answer


def _allowing_head(response: HttpResponse) -> HttpResponse:
    allowed = {m.strip() for m in response.get("Allow", "").split(",") if m.strip()}
    if response.status_code == 405 and "GET" in allowed:
        response["Allow"] = ", ".join(sorted(allowed | {"HEAD"}))
    return response


def _wrapped(entry: URLPattern | URLResolver) -> URLPattern | URLResolver:
    if not isinstance(entry, URLPattern):
        raise TypeError(f"the API's urls hold a {type(entry).__name__}: {entry!r}")
    return URLPattern(
        entry.pattern,
        with_head(entry.callback),
        entry.default_args,
        entry.name,
    )


_patterns, _app_name, _namespace = api.urls
urlpatterns = [path("", ([_wrapped(p) for p in _patterns], _app_name, _namespace))]
