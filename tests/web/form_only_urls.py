"""The site's addresses and one more that only takes a form and is named in
no table, for the site's 405 page (tests/web/test_form_addresses.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from dealgate.urls import handler400, handler403, handler404, handler500
from dealgate.urls import urlpatterns as site

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


@require_POST
def takes_a_form(request: HttpRequest) -> HttpResponse:
    return HttpResponse("taken")


urlpatterns = [path("only-a-form/", takes_a_form), *site]
