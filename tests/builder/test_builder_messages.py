"""What the builder says when it refuses something: in the page's words,
naming the field, the select or the stage, never the command line's."""

from __future__ import annotations

import pytest

from dealgate.builder import edits
from dealgate.builder.drafts import working_copy
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.errors import ValidationError
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import make_deal, text_of

STAGE_URL = "/pipelines/it-services/edit/stages/proposal/"
PROPOSAL_FORM = {
    "name": "Proposal requested",
    "buyer_action": "After the call, the buyer asked for a written proposal",
    "owner": "deal-owner",
    "age_limit_days": "10",
    "probability": "35",
    "exit_criteria_mode": "all",
}


@pytest.mark.parametrize("name", ["Proposal requested", "  proposal   REQUESTED"])
def test_a_new_stage_named_like_an_existing_one_is_refused_on_its_name(name):
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError) as refused:
        edits.add_stage(spec, "proposal-2", name)

    assert refused.value.field == "name"
    assert refused.value.message == (
        "stage 'proposal' is already named 'Proposal requested'; give this "
        "stage a name of its own"
    )


def test_renaming_a_stage_to_another_stages_name_is_refused_but_its_own_is_kept():
    spec = load_pipeline_file(IT_SERVICES)

    with pytest.raises(ValidationError, match="stage 'inquiry' is already named"):
        edits.change_stage(spec, "review", name="inquiry received")
    recased = edits.change_stage(spec, "review", name="PROPOSAL reviewed by the buyer")

    assert edits.stage_of(recased, "review").name == "PROPOSAL reviewed by the buyer"


def test_the_add_stage_form_shows_the_refusal_under_the_name(
    manager_client, it_services
):
    form = {"name": "contract REQUESTED", "owner": "deal-owner", "age_limit_days": "3"}

    page = post(manager_client, "/pipelines/it-services/edit/stages/", form, status=422)

    assert "stage &#x27;contract&#x27; is already named" in page.content.decode()
    assert len(working_copy("it-services").spec.stages) == 5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age_limit_days", "0", "the age limit is a whole number of business days"),
        ("age_limit_days", "400", "the age limit is a whole number of business days"),
        ("probability", "101", "the probability is a whole percentage from 0 to 100"),
        ("probability", "-1", "the probability is a whole percentage from 0 to 100"),
    ],
)
def test_a_stage_number_out_of_range_is_refused_naming_the_field(
    admin_client, it_services, field, value, message
):
    form = {**PROPOSAL_FORM, "breach_default": "on", field: value}

    page = text_of(post(admin_client, STAGE_URL, form, status=422))

    assert message in page
    assert "Ensure this value" not in page


def test_choosing_the_sequence_without_steps_says_they_are_edited_in_the_file(
    admin_client, it_services
):
    form = {**PROPOSAL_FORM, "on_breach": ["mark_at_risk", "sequence"]}

    page = text_of(post(admin_client, STAGE_URL, form, status=422))

    assert (
        "'Start the follow-up sequence' needs the sequence's steps, and they are "
        "edited in the file: open Edit as a file" in page
    )
    assert "but no steps" not in page
    assert "on_breach" not in working_copy("it-services").spec.stages[2].breach


def test_the_sequence_is_chosen_where_the_stage_has_its_steps(
    admin_client, it_services
):
    form = {
        **PROPOSAL_FORM,
        "name": "Contract requested",
        "buyer_action": "The buyer said yes in principle and asked for the contract",
        "age_limit_days": "15",
        "probability": "80",
        "on_breach": ["sequence"],
    }

    post(admin_client, "/pipelines/it-services/edit/stages/contract/", form)

    assert working_copy("it-services").spec.stages[4].breach["on_breach"] == [
        "sequence"
    ]


def test_moving_deals_to_a_stage_the_draft_lacks_is_refused_in_the_pages_words(
    admin_client, it_services, now
):
    make_deal(it_services, "review", title="Acme rollout")
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")

    page = text_of(
        post(
            admin_client,
            "/pipelines/it-services/apply/",
            {"move-review": "prospecting"},
            status=422,
        )
    )

    assert (
        "Deals of Proposal reviewed by the buyer: 'prospecting' is not a stage "
        "of the draft; choose one of the stages its list offers" in page
    )
    assert "--move" not in page
    assert "of the file" not in page
    assert it_services.stages.filter(key="review", retired_at=None).exists()


def test_a_missing_handoff_is_said_to_be_missing(manager_client, it_services):
    post(manager_client, "/pipelines/it-services/edit/stages/review/remove/")

    page = text_of(manager_client.get("/pipelines/it-services/edit/"))

    proposal, contract = (
        f'stage "{it_services.stages.get(key=key).name}"'
        for key in ("proposal", "contract")
    )
    assert f"There is no handoff from {proposal} to {contract}" in page
    assert f"the handoff from {proposal} to {contract} has no" not in page
