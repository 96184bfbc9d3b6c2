from django.urls import path

from . import views, webform

app_name = "leads"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("more/", views.inbox_more, name="inbox-more"),
    path("csv/", views.inbox_csv, name="inbox-csv"),
    path("new/", views.lead_new, name="new"),
    path("<int:lead_id>/", views.lead_detail, name="lead"),
    path("<int:lead_id>/activity/", views.lead_activity, name="activity"),
    path("<int:lead_id>/edit/", views.lead_edit, name="edit"),
    path("<int:lead_id>/offers/<int:inquiry_id>/", views.lead_offer, name="offer"),
    path(
        "<int:lead_id>/tasks/<int:task_id>/done/",
        views.lead_task_done,
        name="task-done",
    ),
    path("<int:lead_id>/assign/", views.lead_assign, name="assign"),
    path("<int:lead_id>/convert/", views.lead_convert, name="convert"),
    path("<int:lead_id>/disqualify/", views.lead_disqualify, name="disqualify"),
    path("<int:lead_id>/merge/", views.lead_merge, name="merge"),
    path("decisions/", views.decisions, name="decisions"),
    path("decisions/<int:decision_id>/split/", views.decision_split, name="split"),
    path("notices/read/", views.notices_read, name="notices-read"),
    path("routing/", views.routing_rules, name="routing"),
    path("report/", views.report, name="report"),
    path("form/<slug:pipeline_key>/", webform.lead_form, name="form"),
]
