from django.urls import path

from . import views

urlpatterns = [
    path("today/", views.today, name="today"),
    path("today/more/", views.today_more, name="today-more"),
    path("notices/", views.notice_list, name="notices"),
    path("notices/read/", views.notices_read, name="notices-read"),
]
