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

# The site's own pages in its layout (dealgate.web.errors); under /api/ JSON
# in the API's error family. A form too large, or with too many fields, is
# told so; the 500 page shows while the database is down.
handler400 = "dealgate.web.errors.bad_request"
handler403 = "dealgate.web.errors.permission_denied"
handler404 = "dealgate.web.errors.page_not_found"
handler500 = "dealgate.web.errors.server_error"
