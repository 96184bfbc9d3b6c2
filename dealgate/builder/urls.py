from django.urls import path

from . import applying, editing, stage_pages, views

app_name = "builder"

STAGE = "<slug:key>/edit/stages/<slug:stage_key>/"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", editing.create, name="create"),
    path("<slug:key>/", views.detail, name="detail"),
    path("<slug:key>/picture.svg", views.picture, name="picture"),
    path("<slug:key>/pipeline.toml", views.export, name="export"),
    path("<slug:key>/blueprint/", views.blueprint, name="blueprint"),
    path("<slug:key>/blueprint.toml", views.blueprint_file, name="blueprint-file"),
    path(
        "<slug:key>/blueprint/draft/", applying.blueprint_draft, name="blueprint-draft"
    ),
    path("<slug:key>/edit/", editing.edit, name="edit"),
    path("<slug:key>/edit/pipeline/", editing.edit_pipeline, name="edit-pipeline"),
    path("<slug:key>/edit/stages/", editing.add_stage, name="add-stage"),
    path(STAGE, stage_pages.stage, name="stage"),
    path(STAGE + "move/", editing.move_stage, name="move-stage"),
    path(STAGE + "remove/", editing.remove_stage, name="remove-stage"),
    path(
        STAGE + "criteria/<str:which>/",
        stage_pages.add_criterion,
        name="add-criterion",
    ),
    path(
        STAGE + "criteria/<str:which>/<int:index>/",
        stage_pages.edit_criterion,
        name="edit-criterion",
    ),
    path("<slug:key>/edit/handoffs/", editing.handoffs, name="handoffs"),
    path("<slug:key>/edit/handoffs/new/", editing.add_handoff, name="add-handoff"),
    path("<slug:key>/edit/file/", applying.edit_file, name="file"),
    path("<slug:key>/edit/discard/", applying.discard, name="discard"),
    path("<slug:key>/apply/", applying.apply, name="apply"),
]
