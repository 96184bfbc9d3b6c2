from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("dealgate.api.urls")),
    path("leads/", include("dealgate.leads.urls")),
    path("insights/", include("dealgate.insights.urls")),
    path("pipelines/", include("dealgate.builder.urls")),
    path("", include("dealgate.clocks.urls")),
    path("", include("dealgate.web.urls")),
]

# An unknown address under /api/ answers JSON in the API's error family.
handler404 = "dealgate.api.routes.page_not_found"
# A form too large, or with too many fields, is told so (dealgate.web.errors).
handler400 = "dealgate.web.errors.bad_request"
