from django.urls import path

from .routes import api

urlpatterns = [path("", api.urls)]
