from django.urls import path

from . import views

app_name = "insights"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("bottlenecks/", views.bottlenecks, name="bottlenecks"),
    path("review/", views.review, name="review"),
]
