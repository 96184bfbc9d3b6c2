"""The builder's pages speak the form's words: stage names, action labels,
a plan in those words, the review before applying, and a discard asked
twice."""

from __future__ import annotations

from dealgate.builder.models import Draft
from tests.builder.conftest import post
from tests.web.helpers import text_of

STAGE = "/pipelines/it-services/edit/stages/review/"


def _untick_every_action(client) -> None:
    page = client.get(STAGE)
    form = page.context["form"]
    data = {
        name: value
        for name, value in form.initial.items()
        if name not in ("on_breach", "breach_default") and value is not None
    }
    post(client, STAGE, {**data, "exit_criteria_mode": "all"})


def test_unticked_breach_actions_are_named_in_the_forms_words(
    admin_client, it_services
):
    name = it_services.stages.get(key="review").name
    _untick_every_action(admin_client)

    builder = text_of(admin_client.get("/pipelines/it-services/edit/"))
    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))

    assert f'Stage "{name}" does nothing when a deal outstays its age limit' in (
        builder
    )
    assert "on_breach" not in builder
    assert "--strict" not in builder
    assert (
        "change what happens when a deal outstays its age limit: stage "
        f'"{name}": do nothing (was: the pipeline\'s default)' in plan
    )
    assert "on_breach" not in plan


def test_the_stage_table_names_actions_by_their_labels(admin_client, it_services):
    page = text_of(admin_client.get("/pipelines/it-services/"))

    assert "Mark the deal at risk; Notify the person responsible" in page
    assert "(the pipeline's default)" in page
    assert "mark_at_risk" not in page


def test_the_plan_page_shows_the_review_before_applying(admin_client, it_services):
    _untick_every_action(admin_client)

    plan = admin_client.get("/pipelines/it-services/apply/")
    text = text_of(plan)

    assert "Design review" in text
    assert text.index("Design review") < text.index("Apply the pipeline")
    assert "does nothing when a deal outstays its age limit" in text


def test_discarding_asks_first_and_keeps_the_draft_until_confirmed(
    admin_client, it_services
):
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")

    asked = post(admin_client, "/pipelines/it-services/edit/discard/", status=200)

    assert "Discard the draft of" in text_of(asked)
    assert Draft.objects.filter(key="it-services").exists()
    post(admin_client, "/pipelines/it-services/edit/discard/", {"confirm": "discard"})
    assert not Draft.objects.filter(key="it-services").exists()


def test_the_plan_names_handoffs_and_removed_stages_by_stage_names(
    admin_client, it_services
):
    names = {stage.key: stage.name for stage in it_services.stages.all()}
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))

    assert f'remove stage "{names["review"]}"' in plan
    assert (
        f'remove the handoff from stage "{names["proposal"]}" to stage '
        f'"{names["review"]}"' in plan
    )
    assert "handoff proposal -> review" not in plan
    assert "remove stage 'review'" not in plan


def test_the_plan_names_a_new_owner_as_the_form_offers_them(admin_client, it_services):
    page = admin_client.get(STAGE)
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(owner="user:olivia", exit_criteria_mode="any", breach_default="on")
    data.pop("on_breach", None)
    post(admin_client, STAGE, data)

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))

    assert "-> Olivia Owner" in plan
    assert "user:olivia" not in plan
    assert "criteria needed all -> any" in plan
