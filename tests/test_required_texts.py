"""A required text must hold something a reader sees, at every door.

A title, a reason, a decision or a name made only of characters that print
as nothing ("\u200b", the blank Braille pattern "\u2800", soft hyphens, a
Hangul filler, a variation selector) is refused as whitespace is, naming the
field and the code points it holds (`core.text.required_text`).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dealgate.builder import drafts, edits
from dealgate.clocks.rules import BreachRuleError
from dealgate.clocks.rules import parse_rules as parse_breach_rules
from dealgate.core.pipeline_file import (
    CriterionSpec,
    PipelineFileError,
    load_pipeline_file,
)
from dealgate.core.routing import parse_rules
from dealgate.deals import services
from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from dealgate.insights.services import record_review
from dealgate.leads.services import capture_lead, convert_lead, disqualify_lead
from dealgate.leads.tokens import create_token
from tests.builder.conftest import IT_SERVICES
from tests.importing import make_import_pipeline, write_csv, write_mapping
from tests.insights.conftest import filters_for
from tests.web.helpers import make_deal, text_of

INVISIBLE = ["\u200b", "\u2800", "\u00ad\u00ad", "\u3164", "\ufe0f"]
GATE = {"label": "value known", "rule": "deal.value != null"}


def code_point(text: str) -> str:
    return f"U+{ord(text[0]):04X}"


@pytest.fixture
def gated(pipeline):
    """A deal in inquiry cannot leave it forward without a value."""
    inquiry = pipeline.stages.get(key="inquiry")
    inquiry.exit_criteria = [GATE]
    inquiry.save()
    return pipeline


@pytest.fixture
def deal(gated, alice, now):
    return make_deal(gated, "inquiry", title="Helpdesk", value=None, owner=alice)


# --- moves --------------------------------------------------------------------


@pytest.mark.parametrize("reason", INVISIBLE)
def test_an_invisible_override_reason_forces_no_move_through_the_api(
    client, max_manager, deal, reason
):
    client.force_login(max_manager)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "discovery", "version": 1, "override_reason": reason},
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "override_reason"
    assert "holds no visible characters" in body["message"]
    assert code_point(reason) in body["message"]
    assert "value known" in body["unmet"][0]
    deal.refresh_from_db()
    assert (deal.stage.key, deal.version) == ("inquiry", 1)
    assert not StageEvent.objects.filter(deal=deal).exists()


def test_an_invisible_override_reason_forces_no_win_from_the_deal_page(
    client, max_manager, deal
):
    client.force_login(max_manager)

    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"to": "won", "version": 1, "override_reason": "\u2800"},
    )

    assert response.status_code == 422
    assert "holds no visible characters (U+2800)" in text_of(response)
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


def test_a_visible_override_reason_still_forces_the_move(client, max_manager, deal):
    client.force_login(max_manager)

    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"to": "discovery", "version": 1, "override_reason": " Buyer said yes "},
    )

    assert response.status_code == 302
    assert StageEvent.objects.get(deal=deal).override_reason == "Buyer said yes"


@pytest.mark.parametrize("note", ["\u00ad\u00ad", "\u200b \u2800"])
def test_a_reason_that_needs_a_note_is_refused_with_an_invisible_one(
    client, alice, deal, note
):
    client.force_login(alice)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "lost", "version": 1, "loss_reason": "other", "loss_note": note},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "loss_note: " in response.json()["message"]
    assert "holds no visible characters" in response.json()["message"]
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN


# --- deal titles and activities -------------------------------------------------


@pytest.mark.parametrize("title", [*INVISIBLE, " \u200b "])
def test_an_invisible_title_is_refused_when_a_deal_is_created_by_the_api(
    client, alice, pipeline, now, title
):
    client.force_login(alice)

    response = client.post(
        "/api/v1/deals",
        {"pipeline": "new-business", "title": title},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["field"] == "title"
    assert code_point(title.strip()) in response.json()["message"]
    assert not Deal.objects.exists()


@pytest.mark.parametrize("title", INVISIBLE)
def test_an_invisible_title_is_refused_by_an_api_edit(client, alice, deal, title):
    client.force_login(alice)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "title": title},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["field"] == "title"
    assert "holds no visible characters" in response.json()["message"]
    deal.refresh_from_db()
    assert (deal.title, deal.version) == ("Helpdesk", 1)


def test_an_invisible_title_is_refused_at_the_deal_page_s_title_input(
    client, alice, deal
):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]), {"version": 1, "title": "\u3164"}
    )

    assert response.status_code == 422
    assert "Title: holds no visible characters (U+3164)" in text_of(response)
    deal.refresh_from_db()
    assert deal.title == "Helpdesk"


def test_an_invisible_title_makes_no_deal_from_the_new_deal_page(
    client, alice, pipeline, now
):
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline=new-business", {"title": "\ufe0f"}
    )

    assert response.status_code == 422
    assert "holds no visible characters (U+FE0F)" in text_of(response)
    assert not Deal.objects.exists()


def test_an_activity_must_say_something_visible(alice, deal):
    with pytest.raises(ValidationError) as refused:
        services.log_activity(deal.pk, kind="call", subject="\u200b", by=alice)

    assert refused.value.field == "subject"
    assert "U+200B" in refused.value.message


# --- leads, tokens, reviews -------------------------------------------------------


def test_an_invisible_reason_disqualifies_no_lead(pipeline, max_manager, now):
    lead = capture_lead(
        {"name": "Ada", "email": "ada@example.com"}, source="api", pipeline=pipeline
    ).lead

    with pytest.raises(ValidationError) as refused:
        disqualify_lead(lead.pk, "\u200b", by=max_manager)

    assert refused.value.field == "reason"
    assert "holds no visible characters (U+200B)" in refused.value.message
    lead.refresh_from_db()
    assert lead.status != "disqualified"


def test_a_token_needs_a_visible_name(alice):
    with pytest.raises(ValidationError) as refused:
        create_token(alice, "\u2800")

    assert refused.value.field == "name"


@pytest.mark.parametrize("decision", ["\u2800", "\u3164 \ufe0f"])
def test_the_weekly_review_refuses_every_invisible_decision(
    pipeline, max_manager, now, decision
):
    with pytest.raises(ValidationError) as refused:
        record_review(
            filters_for(pipeline),
            week=now.date(),
            metric="",
            decision=decision,
            by=max_manager,
        )

    assert refused.value.field == "decision"
    assert "holds no visible characters" in refused.value.message


# --- the builder and pipeline files ------------------------------------------------


def test_the_builder_refuses_an_invisible_pipeline_name(max_manager):
    with pytest.raises(ValidationError) as refused:
        drafts.start_pipeline("renewals", "\u200b", "Europe/Berlin", max_manager)

    assert refused.value.field == "name"


def test_the_builder_refuses_invisible_stage_names_and_labels():
    spec = load_pipeline_file(IT_SERVICES)
    stage = spec.stages[0].key

    with pytest.raises(ValidationError, match=r"U\+3164") as added:
        edits.add_stage(spec, "kickoff", "\u3164")
    with pytest.raises(ValidationError, match=r"U\+2800") as renamed:
        edits.change_stage(spec, stage, name="\u2800")
    with pytest.raises(ValidationError, match=r"U\+200B") as pipeline:
        edits.change_pipeline(spec, name="\u200b")
    with pytest.raises(ValidationError, match=r"U\+FE0F") as labelled:
        edits.add_criterion(
            spec, stage, "exit", CriterionSpec("\ufe0f", "deal.value != null")
        )

    fields = [added, renamed, pipeline, labelled]
    assert [f.value.field for f in fields] == ["name", "name", "name", "label"]


def test_a_pipeline_file_with_an_invisible_stage_name_names_the_line(tmp_path):
    text = IT_SERVICES.read_text().replace(
        'name = "Inquiry received"', 'name = "\u200b"', 1
    )
    assert text != IT_SERVICES.read_text()
    path = tmp_path / "pipeline.toml"
    path.write_text(text)

    with pytest.raises(PipelineFileError) as refused:
        load_pipeline_file(path)

    assert "holds no visible characters (U+200B)" in str(refused.value)


# --- deal imports --------------------------------------------------------------------

MAPPING = """
source = "crm"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
close_date = "Closed"
loss_reason = "Reason"
loss_note = "Why"
[stages]
Open = "prospecting"
Lost = { stage = "engaging", status = "lost" }
"""


def test_an_import_refuses_invisible_titles_reasons_and_needed_notes(tmp_path, db):
    sales = make_import_pipeline(
        loss_reasons=[{"key": "other", "label": "Other", "needs_note": True}]
    )
    rows = [
        "D1,\u2800,Open,,,",
        "D2,Orbit,Lost,2026-04-01,\u200b,",
        "D3,Helix,Lost,2026-04-01,Other,\u00ad\u00ad",
        "D4,Quasar,Lost,2026-04-01,Other,Budget cut",
    ]
    path = write_csv(tmp_path, "Id,Deal,Stage,Closed,Reason,Why\n" + "\n".join(rows))

    report = import_deals(
        path, write_mapping(tmp_path, MAPPING), pipeline=sales, all_or_nothing=False
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Deal: holds no visible characters (U+2800)",
        "line 3: Reason: holds no visible characters (U+200B)",
        "line 4: Why: holds no visible characters (U+00AD, U+00AD)",
    ]
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["D4"]


def test_a_checklist_key_must_hold_something_visible(client, alice, deal):
    client.force_login(alice)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "checklist": {"\u2800": True}},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["field"] == "checklist"
    assert "holds no visible characters (U+2800)" in response.json()["message"]
    deal.refresh_from_db()
    assert deal.checklist == {}


@pytest.mark.parametrize(
    ("rule", "where"),
    [
        ({"name": "\u200b", "to": "user:alice"}, "routing[0].name"),
        (
            {"name": "Fairs", "when": {"source": ["\u3164"]}, "to": "user:alice"},
            "routing[0].when.source",
        ),
    ],
)
def test_a_routing_rule_s_name_and_values_must_be_visible(rule, where):
    with pytest.raises(ValueError, match=rf"^{re.escape(where)}"):
        parse_rules([rule])


@pytest.mark.parametrize(
    ("breach", "where"),
    [
        ({"task": "\u200b"}, "breach.task"),
        (
            {"on_breach": ["sequence"], "sequence": [{"task": "\u2800"}]},
            "breach.sequence[0].task",
        ),
    ],
)
def test_a_breach_task_must_say_something_visible(breach, where):
    with pytest.raises(BreachRuleError, match=rf"^{re.escape(where)}: holds no"):
        parse_breach_rules(breach, 480)


def test_a_lead_named_only_invisibly_converts_under_its_email(
    pipeline, max_manager, now
):
    lead = capture_lead(
        {"name": "\u200b", "company": "\u3164", "email": "ada@example.com"},
        source="api",
        pipeline=pipeline,
    ).lead

    deal = convert_lead(lead.pk, by=max_manager)

    assert (deal.title, deal.organization) == ("ada@example.com", None)


def test_a_lead_s_field_of_invisible_characters_is_empty(pipeline, now):
    lead = capture_lead(
        {"name": "\u2800", "company": "\u200b", "phone": "+49 30 1234567"},
        source="api",
        pipeline=pipeline,
    ).lead

    assert (lead.name, lead.company, lead.label) == ("", "", "+49 30 1234567")


def test_a_lead_whose_only_email_is_invisible_has_no_way_to_be_answered(pipeline):
    with pytest.raises(ValidationError, match="needs an email address or a phone"):
        capture_lead({"email": "\u200b"}, source="api", pipeline=pipeline)
