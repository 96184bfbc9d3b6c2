"""Dealgate's URLs plus a bare primary-key read: the baseline the leads issue
names, as PERFORMANCE.md measured it (one row read by its key and answered
as JSON; no token, no schema). Served only by benchmarks/leads.py, so that
the product has no page without a login."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from dealgate.leads.models import Lead


def bare(request: HttpRequest, pk: int) -> JsonResponse:
    lead = Lead.objects.only("id", "name", "status").get(pk=pk)
    return JsonResponse({"id": lead.pk, "name": lead.name, "status": lead.status})


urlpatterns = [
    path("bench/bare/<int:pk>", bare),
    path("", include("dealgate.urls")),
]
