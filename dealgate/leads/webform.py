"""The embeddable lead form for a company's website.

`GET /leads/form/<pipeline>/` shows a plain HTML form (no JavaScript; it
may be framed by another site); `POST` captures the lead and answers with a
thank-you page, or a redirect to the pipeline's `lead_form.thanks_url`.

The form is posted from other sites, so it cannot carry a CSRF token; it is
guarded instead by a honeypot field that people never see (a filled one is
thanked and dropped) and a rate limit per client address, counted in the
database so every worker shares it. Only submissions taken in (and honeypot
drops) count: a refused one received nothing, writes nothing, and its
visitor should be free to correct it. A submission kept in the spool while
SQLite is busy with another writer (dealgate.leads.spool) is thanked as any
other and counts from the spool until it is taken in.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from dealgate import timesource
from dealgate.errors import DealgateError, NotFound
from dealgate.web.client import address_key, client_address

from . import spool
from .models import FormHit
from .services import pipeline_for_capture

log = logging.getLogger("dealgate.leads")

# A field people never see; bots that fill every input fill it too.
HONEYPOT = "fax_number"
FORM_FIELDS = ("name", "email", "phone", "company", "website", "country", "message")
DEFAULT_RATE_LIMIT = 5
DEFAULT_RATE_WINDOW = 600


def rate_limit() -> tuple[int, int]:
    """(submissions, seconds) allowed per client address."""
    return (
        int(getattr(settings, "LEADS_FORM_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
        int(getattr(settings, "LEADS_FORM_RATE_WINDOW", DEFAULT_RATE_WINDOW)),
    )


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def lead_form(request: HttpRequest, pipeline_key: str) -> HttpResponse:
    try:
        pipeline = pipeline_for_capture(pipeline_key)
    except NotFound:
        raise Http404(f"no pipeline {pipeline_key!r}") from None
    context = {"pipeline": pipeline, "honeypot": HONEYPOT, "values": {}}
    if request.method == "GET":
        return render(request, "leads/form.html", context)

    allowed, seconds = rate_limit()
    client = _client_key(request)
    if _hits(client, seconds) >= allowed:
        context["retry_minutes"] = max(1, seconds // 60)
        return render(request, "leads/form_limited.html", context, status=429)
    if request.POST.get(HONEYPOT, "").strip():
        _count_hit(client, seconds)
        log.info(
            "form submission to pipeline %s dropped: honeypot filled", pipeline.key
        )
        return _thanks(request, pipeline)

    # Only what the form shows: not `source`, which routing rules test, so
    # that a visitor cannot steer whose queue the lead goes to.
    data = {field: request.POST.get(field, "") for field in FORM_FIELDS}
    try:
        spool.capture_or_keep(
            {k: v for k, v in data.items() if v},
            source="form",
            pipeline=pipeline,
            sender=client,
            then=lambda: _count_hit(client, seconds),
        )
    except DealgateError as exc:
        # Not counted: nothing was received, and the visitor who mistyped an
        # address must still be able to send the corrected form.
        context.update(values=data, error=exc)
        return render(request, "leads/form.html", context, status=exc.status)
    return _thanks(request, pipeline)


def _thanks(request: HttpRequest, pipeline) -> HttpResponse:
    target = ((pipeline.settings or {}).get("lead_form") or {}).get("thanks_url", "")
    if target and urlsplit(target).scheme in ("http", "https"):
        # Only the address an admin configured, never one from the request:
        # a form must not become an open redirect.
        return HttpResponseRedirect(target, status=303)
    return render(request, "leads/form_thanks.html", {"pipeline": pipeline})


def _client_key(request: HttpRequest) -> str:
    """A keyed hash of the client's address (dealgate.web.client): counted,
    never stored plainly."""
    return address_key(client_address(request))


def _window_start(seconds: int) -> dt.datetime:
    """The start of the current rate window: of real time (`wall_now`), as
    under a demo's fixed as-of date a window would never end."""
    epoch = int(timesource.wall_now().timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)


def _hits(client: str, seconds: int) -> int:
    """The submissions counted for the client in the current window: in the
    database, and in the spool while they wait there."""
    start = _window_start(seconds)
    hit = FormHit.objects.filter(client=client, window_start=start).first()
    return (hit.count if hit is not None else 0) + spool.waiting_from(client, start)


def _count_hit(client: str, seconds: int) -> int:
    """Count one accepted submission in the client's current window; returns
    the window's count so far. One statement (an upsert) on both databases."""
    now = timesource.wall_now()
    start = _window_start(seconds)
    table = FormHit._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (client, window_start) DO UPDATE "
            f"SET count = {table}.count + 1 RETURNING count",
            [client, connection.ops.adapt_datetimefield_value(start)],
        )
        count = cursor.fetchone()[0]
    if count == 1:
        # First hit of a window: a cheap moment to forget old windows.
        FormHit.objects.filter(window_start__lt=now - dt.timedelta(days=1)).delete()
    return count
