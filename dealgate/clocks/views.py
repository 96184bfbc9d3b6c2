"""Pages: Today (what is running out, per person) and a person's notices."""

from __future__ import annotations

from dataclasses import astuple

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealgate import timesource
from dealgate.accounts.handover import left_words
from dealgate.accounts.models import User
from dealgate.core.numbers import as_id, read_place
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead
from dealgate.pipelines.calendars import shown_zone
from dealgate.pipelines.models import Pipeline
from dealgate.web.errors import Missing, refused

from . import notices as notice_service
from .models import Clock, Notice
from .queries import (
    TODAY_LIMIT,
    people_seen_by,
    read_places,
    today_for,
    today_section,
)

# Today's sections by the key a "more" link names, with their headings.
SECTION_TITLES = {
    "windows": "Response windows",
    "over_limit": "Deals past their age limit",
    "next_steps": "Next steps due",
}

NOTICES_PER_PAGE = 50


@login_required
def today(request: HttpRequest) -> HttpResponse:
    """The signed-in person's obligations; a manager's include their teams'
    (`?person=USERNAME` narrows to one of them). Each section lists its most
    urgent TODAY_LIMIT and counts the rest."""
    people, username, shown = _people_shown(request)
    context = {
        "today": today_for(shown, timesource.now()),
        "people": people,
        "person": username,
        "several": len(shown) > 1,
        "scope": _scope(request.user, shown),
        "limit": TODAY_LIMIT,
    }
    return render(request, "clocks/today.html", context)


@login_required
def today_more(request: HttpRequest) -> HttpResponse:
    """Further deadlines of one of Today's sections
    (`?section=KEY&after=PLACES`, after those the link's page showed): rows
    for htmx to put in place of the "more" row, a whole page without it."""
    _, username, shown = _people_shown(request)
    key = request.GET.get("section", "")
    if key not in SECTION_TITLES:
        return refused(
            request, 400, f"section must be one of {', '.join(SECTION_TITLES)}"
        )
    text = request.GET.get("after", "")
    try:
        after = read_places(text) if text else None
    except ValueError:
        return refused(
            request,
            400,
            "after must be a place in the list, as the more link writes it "
            f"(PIPELINE:TIME,ID), got {text[:40]!r}",
        )
    context = {
        "section": today_section(shown, timesource.now(), key, after=after),
        "title": SECTION_TITLES[key],
        "person": username,
        "several": len(shown) > 1,
    }
    template = "clocks/_row_page.html" if request.htmx else "clocks/today_more.html"
    return render(request, template, context)


def _people_shown(request: HttpRequest) -> tuple[list[User], str, list[User]]:
    """Everyone the user may see, the `person` asked for ("" for all), and
    whose obligations are shown."""
    people = people_seen_by(request.user)
    username = request.GET.get("person") or ""
    shown = people
    if username:
        shown = [person for person in people if person.username == username]
        if not shown:
            left = left_words(request.user, username)
            if left is not None:
                raise Missing("", words=left)
            raise Missing(f"person: no one called {username!r} in your view")
    return people, username, shown


def _with_zones(notices: list[Notice]) -> str:
    """Give each notice `zone`, the time zone its time is shown in: that of
    the pipeline of what it tells about (its deal, lead or clock, a digest's
    clocks), by `shown_zone`'s rule; return the page's zone, that of all of
    them. Four queries at most, whatever the number of notices."""
    clock_ids = {c for notice in notices for c in notice.clock_ids}
    deal_ids = {n.deal_id for n in notices if n.deal_id is not None}
    lead_ids = {n.lead_id for n in notices if n.lead_id is not None}
    of_clock = dict(
        Clock.objects.filter(pk__in=clock_ids).values_list("pk", "pipeline_id")
    )
    of_deal = dict(
        Deal.objects.filter(pk__in=deal_ids).values_list("pk", "pipeline_id")
    )
    of_lead = dict(
        Lead.objects.filter(pk__in=lead_ids).values_list("pk", "pipeline_id")
    )
    wanted = {*of_clock.values(), *of_deal.values(), *of_lead.values()}
    pipelines = Pipeline.objects.in_bulk(wanted) if wanted else {}
    for notice in notices:
        ids = {of_clock.get(c) for c in notice.clock_ids}
        ids |= {of_deal.get(notice.deal_id), of_lead.get(notice.lead_id)}
        notice.zone = shown_zone(pipelines[i] for i in ids if i in pipelines)
    return shown_zone(pipelines.values())


def _scope(user: User, shown: list[User]) -> str:
    """Whose obligations Today lists, as its summary says it: the people
    shown and what no one is responsible for that they answer for (see
    `queries.today_clocks`)."""
    if len(shown) > 1:
        whom = "everyone" if user.role == User.Role.ADMIN else "you and your teams"
    elif shown[0].pk == user.pk:
        whom = "you"
    else:
        whom = shown[0].display_name
    roles = {person.role for person in shown}
    if User.Role.ADMIN in roles:
        return f" for {whom}, and for the deals and leads no one is responsible for"
    if User.Role.MANAGER in roles:
        manages = "you manage" if user in shown else "they manage"
        return (
            f" for {whom}, and for the deals no one is responsible for"
            f" at stages owned by a team {manages}"
        )
    return f" for {whom}"


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    """A person's notices, newest first, 50 a page. "Older notices" names the
    last one shown (`?after=TIME,ID`), not a count of rows, so a notice
    written meanwhile never shows one of the page again on the next."""
    notices = notice_service.notices_for(request.user)
    text = request.GET.get("after", "")
    if text:
        try:
            at, pk = astuple(read_place(text, "the notices", timeless=False))
        except ValidationError as error:
            return refused(request, 400, error.message)
        notices = notices.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    page = list(notices[: NOTICES_PER_PAGE + 1])
    shown = page[:NOTICES_PER_PAGE]
    last = shown[-1] if len(page) > NOTICES_PER_PAGE else None
    context = {
        "notices": shown,
        "zone": _with_zones(shown),
        "unread": notice_service.unread_count(request.user),
        "older": f"{last.created_at.isoformat()},{last.pk}" if last else None,
    }
    return render(request, "clocks/notices.html", context)


@login_required
@require_POST
def notices_read(request: HttpRequest) -> HttpResponse:
    """Mark one notice (`notice=ID`) or all of them read; idempotent."""
    wanted = request.POST.get("notice")
    if wanted is None:
        notice_service.mark_read(request.user)
    elif (notice := as_id(wanted)) is not None:
        notice_service.mark_read(request.user, [notice])
    else:
        return refused(request, 400, "notice must be a notice id")
    return redirect("notices")
