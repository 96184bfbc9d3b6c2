"""The embeddable lead form for a company's website.

`GET /leads/form/<pipeline>/` shows a plain HTML form (no JavaScript; it
may be framed by another site); `POST` captures the lead and answers with a
thank-you page, or a redirect to the pipeline's `lead_form.thanks_url`.

The form is posted from other sites, so it cannot carry a CSRF token; it is
guarded instead by a honeypot field that people never see (a filled one is
thanked and dropped) and a rate limit per client address, counted in the
database so every worker shares it (dealgate.leads.formhits): checked and
counted in one step before anything is captured, so that submissions sent at
once are held to it. A submission refused afterwards (it does not read, or a
check refuses it) gives its count back: it received nothing, writes nothing,
and its visitor should be free to correct it. A honeypot drop stays counted.
While SQLite is busy with another writer, a submission is kept in the spool
(dealgate.leads.spool), thanked as any other, and counted once, in the
window it was posted in: from the spool while it waits there, and in the
database from when it is taken in.

A visitor is a stranger, who must not learn whether an address is a lead's:
where there is a spool, a submission that passes the checks is kept there
and thanked before it is compared with any lead, and taken in as the answer
closes (`spool.keep_to_answer_first`, docs/leads.md, "What an anonymous
capture tells").
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from dealgate import timesource
from dealgate.core.text import agreeing, counted
from dealgate.errors import DealgateError, NotFound, ValidationError
from dealgate.web.client import address_key, client_address
from dealgate.web.csp import send_form_to

from . import formhits, spool
from .services import pipeline_for_capture
from .templatetags.lead_forms import LABELS

log = logging.getLogger("dealgate.leads")

# A field people never see; bots that fill every input fill it too.
HONEYPOT = "fax_number"
# What the shipped form shows, and what a firm's own HTML may post besides
# (segment, size and value, as a visitor declares them). Not `source`,
# which routing rules test as the firm's own word about a lead: it is always
# "form". Any other field (a button's name, a tracking parameter) is not
# read.
FORM_FIELDS = (
    *("name", "email", "phone", "company", "website", "country", "message"),
    *("segment", "company_size", "value"),
)


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def lead_form(request: HttpRequest, pipeline_key: str) -> HttpResponse:
    try:
        pipeline = pipeline_for_capture(pipeline_key)
    except NotFound:
        raise Http404(f"no pipeline {pipeline_key!r}") from None
    context = {"pipeline": pipeline, "honeypot": HONEYPOT, "values": {}}
    if request.method != "POST":
        return _form_page(pipeline, render(request, "leads/form.html", context))

    client = _client_key(request)
    posted_at = timesource.wall_now()
    # The check and the count are one step, before anything is captured
    # (dealgate.leads.formhits.held): submissions sent at once are counted
    # one after the other, and those past the limit refused.
    with formhits.held(client, posted_at) as slot:
        if not slot.allowed:
            wait = formhits.retry_after(client, posted_at)
            context["retry_in"] = counted(max(1, math.ceil(wait / 60)), "minute")
            return render(request, "leads/form_limited.html", context, status=429)
        return _take(request, pipeline, slot, context)


def _take(request: HttpRequest, pipeline, slot: formhits.Slot, context) -> HttpResponse:
    """Take in a submission that has its place under the limit: a refused
    one gives its count back (nothing was received, and its visitor must be
    free to correct it and send it again); a honeypot drop keeps it."""
    undecodable = getattr(request, "undecodable_form", None)
    if undecodable is not None:
        slot.give_back()
        # This page is UTF-8, so the visitor can type the fields again here
        # and send.
        context["error"] = _not_utf8(undecodable)
        page = render(request, "leads/form.html", context, status=422)
        return _form_page(pipeline, page)
    if request.POST.get(HONEYPOT, "").strip():
        return _drop(request, pipeline, slot)

    # Only what the form shows: not `source`, which routing rules test, so
    # that a visitor cannot steer whose queue the lead goes to.
    data = {field: request.POST.get(field, "") for field in FORM_FIELDS}
    sent = {k: v for k, v in data.items() if v}
    try:
        # Answered before it is compared with any lead, where there is a
        # spool: nothing the visitor sees, nor when, says whether it repeats
        # one. Counted already, or (SQLite busy) in the spool until taken in.
        kept = spool.keep_to_answer_first(
            sent, source="form", pipeline=pipeline, sender=slot.sender
        )
        if kept is not None:
            return spool.answer_then_take_in(_thanks(request, pipeline), kept)
        spool.capture_or_keep(
            sent,
            source="form",
            pipeline=pipeline,
            sender=slot.sender,
            then=slot.count_on_capture(),
        )
    except DealgateError as exc:
        # Not counted: nothing was received, and the visitor who mistyped an
        # address must still be able to send the corrected form.
        slot.give_back()
        context.update(values=data, error=exc)
        page = render(request, "leads/form.html", context, status=exc.status)
        return _form_page(pipeline, page)
    return _thanks(request, pipeline)


def _not_utf8(error: DealgateError) -> ValidationError:
    """What the form says of a submission that was not UTF-8: the labels of
    the inputs that did not read (dealgate.web.encoding), and what to do."""
    fields = getattr(error, "fields", None) or []
    labels = [LABELS.get(name, name) for name in fields]
    what = (
        f"{', '.join(labels)} did not arrive as UTF-8 text"
        if labels
        else "This form did not arrive as UTF-8 text"
    )
    return ValidationError(
        f"{what}, so nothing was kept. Type {agreeing(len(labels), 'it', 'them')} "
        "again here and send this form. (The page it was sent from must send "
        'it as UTF-8: accept-charset="utf-8" on its form.)'
    )


def _thanks_url(pipeline) -> str:
    """The pipeline's thank-you address, if an admin set one (http or https)."""
    target = ((pipeline.settings or {}).get("lead_form") or {}).get("thanks_url", "")
    return target if target and urlsplit(target).scheme in ("http", "https") else ""


def _form_page(pipeline, page: HttpResponse) -> HttpResponse:
    """The form, allowed to be answered with the thank-you address: a browser
    holds the redirect after a form is sent to the page's form-action."""
    if target := _thanks_url(pipeline):
        send_form_to(page, target)
    return page


def _drop(request: HttpRequest, pipeline, slot: formhits.Slot) -> HttpResponse:
    """Thank a bot that filled the honeypot, as any visitor, and keep nothing.
    Its hit stays counted; while another writer holds SQLite it cannot be,
    and is let go rather than answered 503, which would tell the bot apart."""
    if slot.counted:
        log.info(
            "form submission to pipeline %s dropped: honeypot filled", pipeline.key
        )
    else:
        log.info(
            "form submission to pipeline %s dropped: honeypot filled; not "
            "counted, the database is busy with another writer",
            pipeline.key,
        )
    return _thanks(request, pipeline)


def _thanks(request: HttpRequest, pipeline) -> HttpResponse:
    if target := _thanks_url(pipeline):
        # Only the address an admin configured, never one from the request:
        # a form must not become an open redirect.
        return HttpResponseRedirect(target, status=303)
    return render(request, "leads/form_thanks.html", {"pipeline": pipeline})


def _client_key(request: HttpRequest) -> str:
    """A keyed hash of the client's address (dealgate.web.client): counted,
    never stored plainly."""
    return address_key(client_address(request))
