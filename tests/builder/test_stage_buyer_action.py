"""A stage is entered because the buyer did something: the builder refuses a
stage without a buyer action where it is added or edited, on the "Buyer
action" field, keeping what was typed, rather than letting it sit in the
draft until Apply refuses it."""

from __future__ import annotations

import pytest

from dealgate.builder import edits
from dealgate.builder.drafts import working_copy
from dealgate.builder.models import Draft
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.errors import ValidationError
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import text_of

ADD = "/pipelines/it-services/edit/stages/"
REVIEW = "/pipelines/it-services/edit/stages/review/"
SAY_WHAT = (
    'say what the buyer did to enter this stage, e.g. "The buyer asked for a proposal"'
)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", SAY_WHAT),
        ("   ", SAY_WHAT),
        ("\u200b \u3164", "holds no visible characters (U+200B, U+0020, U+3164)"),
    ],
)
def test_adding_a_stage_without_a_buyer_action_is_refused_on_that_field(typed, said):
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError) as refused:
        edits.add_stage(spec, "kickoff", "Kickoff booked", buyer_action=typed)

    assert refused.value.field == "buyer_action"
    assert refused.value.message == f"buyer_action: {said}"


def test_clearing_a_stages_buyer_action_is_refused_on_that_field():
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError, match="^buyer_action: say what") as refused:
        edits.change_stage(spec, "review", buyer_action=" ")

    assert refused.value.field == "buyer_action"


def test_the_buyer_action_is_kept_trimmed():
    spec = load_pipeline_file(IT_SERVICES)

    added = edits.add_stage(
        spec, "kickoff", "Kickoff", buyer_action=" Booked it ", age_limit_days=5
    )

    assert edits.stage_of(added, "kickoff").buyer_action == "Booked it"


def test_the_add_stage_form_refuses_a_blank_buyer_action_keeping_the_rest(
    manager_client, it_services
):
    response = post(
        manager_client,
        ADD,
        {
            "name": "Kickoff booked",
            "key": "kickoff",
            "buyer_action": "  ",
            "owner": "deal-owner",
            "age_limit_days": "7",
            "probability": "30",
        },
        status=422,
    )

    html = response.content.decode()
    page = text_of(response)
    # Beside its own label, without the key in front.
    assert f"Buyer action {SAY_WHAT}" in page
    assert 'value="Kickoff booked"' in html
    assert 'value="kickoff"' in html
    assert 'value="7"' in html
    assert not Draft.objects.filter(key="it-services").exists()


def test_the_stage_page_refuses_clearing_the_buyer_action_keeping_the_rest(
    manager_client, it_services
):
    stage = edits.stage_of(working_copy("it-services").spec, "review")

    response = post(
        manager_client,
        REVIEW,
        {
            "name": "Proposal gone through",
            "buyer_action": "",
            "owner": stage.owner,
            "age_limit_days": "9",
            "probability": str(stage.probability),
            "exit_criteria_mode": "all",
            "breach_default": "on",
        },
        status=422,
    )

    assert f"Buyer action {SAY_WHAT}" in text_of(response)
    assert 'value="Proposal gone through"' in response.content.decode()
    assert not Draft.objects.filter(key="it-services").exists()
