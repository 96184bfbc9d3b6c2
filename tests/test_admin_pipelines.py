"""Pipelines in the admin at /admin/, as a superuser: shown, never changed.

A pipeline changes through its file or the builder, which check it and
re-date running clocks; the admin's forms would save rows past both."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.core.pipeline_file import dump_pipeline, load_pipeline_file
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.demo.loader import PIPELINE_FILE
from dealgate.leads.models import Lead
from dealgate.pipelines.models import Handoff, Pipeline, Stage
from dealgate.pipelines.services import apply_pipeline, export_pipeline
from tests.conftest import REPO_ROOT

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
SHIPPED = [PIPELINE_FILE, *sorted((REPO_ROOT / "examples/pipelines").glob("*.toml"))]


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.fixture
def windowed(pipeline) -> Handoff:
    """A two-hour response window from inquiry into discovery."""
    return Handoff.objects.create(
        pipeline=pipeline,
        from_stage=pipeline.stages.get(key="inquiry"),
        to_stage=pipeline.stages.get(key="discovery"),
        response_window_minutes=120,
    )


@pytest.fixture
def running(pipeline, windowed, alice) -> Clock:
    """alice's deal moved into discovery: its response clock at the handoff."""
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Backup for Contoso",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )
    move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    return Clock.objects.get(deal=deal, kind="response", state="running")


def pipeline_url(pipeline: Pipeline, view: str = "change") -> str:
    return f"/admin/pipelines/pipeline/{pipeline.pk}/{view}/"


def test_a_handoffs_response_window_is_not_changed_in_the_admin(
    admin, windowed, running
):
    url = f"/admin/pipelines/handoff/{windowed.pk}/change/"
    page = admin.get(url).content.decode()

    answer = admin.post(
        url,
        {
            "pipeline": windowed.pipeline_id,
            "from_stage": windowed.from_stage_id,
            "to_stage": windowed.to_stage_id,
            "response_window_minutes": "100000000",
            "responsible": "",
        },
    )

    assert 'name="response_window_minutes"' not in page
    assert answer.status_code == 403
    windowed.refresh_from_db()
    assert windowed.response_window_minutes == 120
    due = running.due_at
    running.refresh_from_db()
    assert running.due_at == due
    assert 'response_window = "2h"' in export_pipeline_text(windowed.pipeline)


def export_pipeline_text(pipeline: Pipeline) -> str:
    return dump_pipeline(export_pipeline(pipeline))


def test_handoffs_are_neither_added_nor_deleted_in_the_admin(admin, windowed):
    assert admin.get("/admin/pipelines/handoff/add/").status_code == 403
    answer = admin.post(f"/admin/pipelines/handoff/{windowed.pk}/delete/", {})
    admin.post(
        "/admin/pipelines/handoff/",
        {"action": "delete_selected", "_selected_action": [windowed.pk], "post": "yes"},
    )

    assert answer.status_code == 403
    assert Handoff.objects.filter(pk=windowed.pk).exists()


def test_the_pipeline_page_shows_its_parts_without_inputs_and_says_where_to_change_them(
    admin, pipeline, windowed
):
    page = admin.get(pipeline_url(pipeline)).content.decode()

    assert "Here it is shown only." in page
    assert f'href="/pipelines/{pipeline.key}/edit/"' in page
    assert "Discovery call booked" in page
    for name in ("name", "calendar", "custom_fields", "settings"):
        assert f'name="{name}"' not in page
    for field in ("name", "age_limit_days", "retired_at", "replaced_by", "DELETE"):
        assert f'name="stages-0-{field}' not in page
    assert 'name="handoffs-0-response_window_minutes"' not in page


def test_a_stages_age_limit_posted_to_the_pipeline_page_is_not_stored(admin, pipeline):
    inquiry = pipeline.stages.get(key="inquiry")

    answer = admin.post(
        pipeline_url(pipeline),
        {
            "key": pipeline.key,
            "name": "Renamed",
            "stages-TOTAL_FORMS": "1",
            "stages-INITIAL_FORMS": "1",
            "stages-0-id": inquiry.pk,
            "stages-0-pipeline": pipeline.pk,
            "stages-0-age_limit_days": "999",
        },
    )

    assert answer.status_code == 403
    inquiry.refresh_from_db()
    pipeline.refresh_from_db()
    assert (inquiry.age_limit_days, pipeline.name) == (2, "New business")


def test_pipelines_and_stages_are_not_added_in_the_admin(admin, pipeline):
    assert admin.get("/admin/pipelines/pipeline/add/").status_code == 403
    assert 'name="stages-__prefix__-key"' not in (
        admin.get(pipeline_url(pipeline)).content.decode()
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.parent.name)
def test_a_shipped_pipeline_page_opens_without_a_form_to_fail(admin, demo_people, path):
    spec = load_pipeline_file(path)
    apply_pipeline(spec)
    pipeline = Pipeline.objects.get(key=spec.key)

    page = admin.get(pipeline_url(pipeline))

    html = page.content.decode()
    assert page.status_code == 200
    assert "This field is required" not in html
    assert 'name="_save"' not in html
    assert spec.stages[0].name in html


def test_a_pipeline_that_holds_deals_is_not_deleted_and_its_deals_are_named(
    admin, pipeline, running
):
    deal = running.deal

    page = admin.get(pipeline_url(pipeline, "delete")).content.decode()
    answer = admin.post(pipeline_url(pipeline, "delete"), {"post": "yes"})

    assert "Cannot delete" in page
    assert "pipeline New business holds 1 deal, so it is kept" in page
    assert f"deal #{deal.pk} &#x27;Backup for Contoso&#x27; (open)" in page
    assert answer.status_code == 200
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()


def test_an_unused_pipeline_is_deleted_with_its_stages_and_handoffs(
    admin, pipeline, windowed
):
    answer = admin.post(pipeline_url(pipeline, "delete"), {"post": "yes"})

    assert answer.status_code == 302
    assert not Pipeline.objects.filter(pk=pipeline.pk).exists()
    assert not Stage.objects.filter(pipeline_id=pipeline.pk).exists()
    assert not Handoff.objects.filter(pk=windowed.pk).exists()


def test_delete_selected_keeps_a_pipeline_its_leads_hold(admin, pipeline, alice):
    Lead.objects.create(
        pipeline=pipeline, name="Ann", channel="api", created_at=T0, owner=alice
    )

    answer = admin.post(
        "/admin/pipelines/pipeline/",
        {"action": "delete_selected", "_selected_action": [pipeline.pk], "post": "yes"},
    )

    assert "pipeline New business holds 1 lead, so it is kept" in (
        answer.content.decode()
    )
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()
