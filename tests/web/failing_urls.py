"""The site's addresses and one whose view fails on the database, for the 500
page's tests (tests/web/test_error_pages.py). The error handlers are the
site's own, taken from dealgate.urls."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from dealgate.accounts.models import User
from dealgate.urls import handler400, handler403, handler404, handler500
from dealgate.urls import urlpatterns as site

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def counts_users(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(User.objects.count()))


urlpatterns = [
    path("failing/", counts_users),
    path("leads/form/failing/", counts_users),
    *site,
]
