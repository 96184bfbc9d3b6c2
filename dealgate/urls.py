from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("dealgate.api.urls")),
    path("", include("dealgate.web.urls")),
]
