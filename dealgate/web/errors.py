"""The site's answer to a request Django refuses before any view runs.

Django reads a form's body only when a view first asks for it, and refuses
one larger than DATA_UPLOAD_MAX_MEMORY_SIZE or with more fields than
DATA_UPLOAD_MAX_NUMBER_FIELDS with a bare "Bad Request (400)". A visitor
who pasted a long message into the website's lead form deserves to be told
what was wrong: the too-large body gets 413 and the limit, too many fields
400 and theirs. Under /api/ the API's middleware turns either into JSON.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults

log = logging.getLogger("dealgate.web")


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
        return defaults.bad_request(request, exception)
    log.info(
        "refused %s %s: the form sent is %s", request.method, request.path, problem
    )
    return render(request, "web/bad_request.html", {"problem": problem}, status=status)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`CSRF_FAILURE_VIEW`: a form sent with a token that no longer holds
    (signed in again in another tab, a page left open past its session)
    gets the site's page saying what to do, not Django's bare one, whose
    inline style the site's policy refuses. Under /api/ the API's
    middleware answers JSON instead."""
    log.info("refused %s %s: %s", request.method, request.path, reason)
    return render(request, "web/csrf_failure.html", status=403)
