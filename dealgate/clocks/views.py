"""Pages: Today (what is running out, per person) and a person's notices."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealgate import timesource
from dealgate.core.numbers import MAX_OFFSET, as_id, whole_number
from dealgate.errors import ValidationError

from . import notices as notice_service
from .queries import people_seen_by, today_for

NOTICES_PER_PAGE = 50


@login_required
def today(request: HttpRequest) -> HttpResponse:
    """The signed-in person's obligations; a manager's include their teams'
    (`?person=USERNAME` narrows to one of them)."""
    people = people_seen_by(request.user)
    username = request.GET.get("person")
    shown = people
    if username:
        shown = [person for person in people if person.username == username]
        if not shown:
            raise Http404(f"no one called {username!r} in your view")
    context = {
        "today": today_for(shown, timesource.now()),
        "people": people,
        "person": username or "",
        "several": len(shown) > 1,
    }
    return render(request, "clocks/today.html", context)


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    try:
        start = whole_number(
            request.GET.get("offset", "0"), "offset", most=MAX_OFFSET, unit="notices"
        )
    except ValidationError as error:
        return HttpResponseBadRequest(error.message)
    page = list(
        notice_service.notices_for(request.user)[start : start + NOTICES_PER_PAGE + 1]
    )
    context = {
        "notices": page[:NOTICES_PER_PAGE],
        "unread": notice_service.unread_count(request.user),
        "next_offset": start + NOTICES_PER_PAGE
        if len(page) > NOTICES_PER_PAGE
        else None,
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
        return HttpResponseBadRequest("notice must be a notice id")
    return redirect("notices")
