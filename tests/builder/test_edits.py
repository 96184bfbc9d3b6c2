"""Edits of a spec, one builder action each; no database needed."""

from __future__ import annotations

import json

import pytest

from dealgate.builder import edits
from dealgate.core.pipeline_file import (
    CriterionSpec,
    HandoffSpec,
    load_pipeline_file,
)
from dealgate.errors import ValidationError
from tests.builder.conftest import IT_SERVICES


@pytest.fixture
def spec():
    return load_pipeline_file(IT_SERVICES)


def test_a_spec_survives_a_trip_through_json(spec):
    data = json.loads(json.dumps(edits.spec_to_data(spec)))

    assert edits.spec_from_data(data) == spec


def test_an_added_stage_goes_last_with_what_was_given(spec):
    changed = edits.add_stage(
        spec,
        "kickoff",
        "Kickoff booked",
        buyer_action="The buyer booked the kickoff",
        owner="team:Central",
        age_limit_days=3,
    )

    stage = changed.stages[-1]
    assert (stage.key, stage.name, stage.owner, stage.age_limit_days) == (
        "kickoff",
        "Kickoff booked",
        "team:Central",
        3,
    )
    assert stage.buyer_action == "The buyer booked the kickoff"
    assert changed.stage_keys()[:-1] == spec.stage_keys()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Kick Off", "a stage key is a slug"),
        ("won", "'won' is reserved"),
        ("proposal", "there is already a stage 'proposal'"),
    ],
)
def test_a_stage_key_must_be_a_new_slug(spec, key, message):
    with pytest.raises(ValidationError, match=message) as caught:
        edits.add_stage(spec, key, "Name")

    assert caught.value.field == "key"


def test_moving_a_stage_keeps_handoffs_in_pipeline_order(spec):
    changed = edits.move_stage(spec, "contract", -1)

    assert changed.stage_keys() == [
        "inquiry",
        "discovery",
        "proposal",
        "contract",
        "review",
    ]
    ends = [(h.from_stage, h.to_stage) for h in changed.handoffs]
    assert ends.index(("review", "contract")) == len(ends) - 1


def test_moving_past_either_end_stays_at_the_end(spec):
    assert edits.move_stage(spec, "inquiry", -1).stage_keys() == spec.stage_keys()
    assert edits.move_stage(spec, "contract", 5).stage_keys() == spec.stage_keys()


def test_removing_a_stage_drops_its_handoffs(spec):
    changed = edits.remove_stage(spec, "review")

    assert "review" not in changed.stage_keys()
    assert all("review" not in (h.from_stage, h.to_stage) for h in changed.handoffs)


def test_changing_a_stage_refuses_an_age_limit_out_of_range(spec):
    with pytest.raises(ValidationError) as caught:
        edits.change_stage(spec, "review", age_limit_days=400)

    assert caught.value.field == "age_limit_days"


def test_a_criterion_needs_a_new_label_and_a_rule_that_compiles(spec):
    taken = CriterionSpec("The call took place", "held('meeting')")
    broken = CriterionSpec("Typo", "deal.valeu > 1")

    with pytest.raises(ValidationError, match="already a criterion") as duplicate:
        edits.add_criterion(spec, "discovery", edits.EXIT, taken)
    with pytest.raises(ValidationError, match="no field 'valeu'") as typo:
        edits.add_criterion(spec, "discovery", edits.EXIT, broken)

    assert (duplicate.value.field, typo.value.field) == ("label", "rule")


def test_a_criterion_reading_a_custom_field_the_pipeline_lacks_is_refused(spec):
    typo = CriterionSpec("Slot booked", "deal.custom.cal_date != null")

    with pytest.raises(ValidationError, match="did you mean 'call_date'") as caught:
        edits.add_criterion(spec, "discovery", edits.EXIT, typo)

    assert caught.value.field == "rule"


def test_a_criterion_naming_a_checklist_key_a_deal_refuses_is_refused(spec):
    long_key = CriterionSpec("Signed", f"checklist.{'k' * 101} == true")

    with pytest.raises(ValidationError, match="the limit is 100") as caught:
        edits.add_criterion(spec, "discovery", edits.EXIT, long_key)

    assert caught.value.field == "rule"


def test_criteria_are_added_changed_and_removed_by_position(spec):
    new = CriterionSpec("Budget owner met", 'held("meeting", "budget")')

    added = edits.add_criterion(spec, "review", edits.ENTRY, new)
    renamed = edits.change_criterion(
        added, "review", edits.ENTRY, 0, CriterionSpec("Budget holder met", new.rule)
    )
    removed = edits.remove_criterion(renamed, "review", edits.ENTRY, 0)

    assert edits.stage_of(added, "review").entry_criteria == (new,)
    assert edits.stage_of(renamed, "review").entry_criteria[0].label == (
        "Budget holder met"
    )
    assert removed == spec


def test_handoffs_must_join_stages_of_the_pipeline_once(spec):
    with pytest.raises(ValidationError, match="joins no stages"):
        edits.set_handoffs(spec, [HandoffSpec("lead", "nowhere", 60)])
    with pytest.raises(ValidationError, match="given twice"):
        edits.set_handoffs(
            spec,
            [HandoffSpec("lead", "inquiry", 60), HandoffSpec("lead", "inquiry", 5)],
        )


def test_an_unknown_time_zone_is_refused(spec):
    with pytest.raises(ValidationError, match="unknown time zone") as caught:
        edits.change_pipeline(spec, timezone="Mars/Olympus")

    assert caught.value.field == "timezone"
