from django.urls import path

from dealgate.accounts.views import SignInView, SignOutView

from . import views

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", SignOutView.as_view(), name="logout"),
    path("", views.board, name="board"),
    path("board/column/", views.board_column, name="board-column"),
    path("board/csv/", views.board_csv, name="board-csv"),
    path("deals/new/", views.deal_new, name="deal-new"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<int:deal_id>/activities/", views.deal_activity, name="deal-activity"),
    path(
        "deals/<int:deal_id>/tasks/<int:task_id>/done/",
        views.deal_task_done,
        name="deal-task-done",
    ),
]
