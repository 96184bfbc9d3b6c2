"""Every stage has an age limit: the builder refuses a stage without one
where it is added or edited, on the "Age limit" field, keeping what was
typed, rather than letting it sit in the draft until Apply refuses it."""

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
SAY_HOW_LONG = (
    "say how many business days a deal may sit in this stage before it is at "
    "risk (1 to 365)"
)


def test_adding_a_stage_without_an_age_limit_is_refused_on_that_field():
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError) as refused:
        edits.add_stage(spec, "kickoff", "Kickoff booked", buyer_action="Booked")

    assert refused.value.field == "age_limit_days"
    assert refused.value.message == f"age_limit_days: {SAY_HOW_LONG}"


def test_clearing_a_stages_age_limit_is_refused_on_that_field():
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError, match="^age_limit_days: say how") as refused:
        edits.change_stage(spec, "review", age_limit_days=None)

    assert refused.value.field == "age_limit_days"


def test_the_add_stage_form_refuses_a_missing_age_limit_keeping_the_rest(
    manager_client, it_services
):
    response = post(
        manager_client,
        ADD,
        {
            "name": "Kickoff booked",
            "key": "kickoff",
            "buyer_action": "The buyer booked a kickoff",
            "owner": "deal-owner",
            "age_limit_days": "",
            "probability": "30",
        },
        status=422,
    )

    html = response.content.decode()
    # Beside its own label, without the key in front.
    assert f"Age limit (business days) {SAY_HOW_LONG}" in text_of(response)
    assert 'value="Kickoff booked"' in html
    assert 'value="The buyer booked a kickoff"' in html
    assert not Draft.objects.filter(key="it-services").exists()


def test_the_stage_page_refuses_clearing_the_age_limit_keeping_the_rest(
    manager_client, it_services
):
    stage = edits.stage_of(working_copy("it-services").spec, "review")

    response = post(
        manager_client,
        REVIEW,
        {
            "name": "Proposal gone through",
            "buyer_action": stage.buyer_action,
            "owner": stage.owner,
            "age_limit_days": "",
            "probability": str(stage.probability),
            "exit_criteria_mode": "all",
            "breach_default": "on",
        },
        status=422,
    )

    assert SAY_HOW_LONG in text_of(response)
    assert 'value="Proposal gone through"' in response.content.decode()
    assert not Draft.objects.filter(key="it-services").exists()
