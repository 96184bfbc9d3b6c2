"""The design review: each check, on small specs built for it."""

from __future__ import annotations

import pytest

from dealgate.core.pipeline_file import (
    CriterionSpec,
    CustomFieldSpec,
    HandoffSpec,
    LossReasonSpec,
    load_pipeline_file,
    parse_pipeline,
)
from dealgate.core.review import (
    PipelineData,
    StageData,
    review,
    seller_act,
)
from tests.conftest import REPO_ROOT
from tests.core.review_specs import KEYS
from tests.core.review_specs import codes as _codes
from tests.core.review_specs import spec as _spec
from tests.core.review_specs import stage as _stage

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"


def test_a_well_shaped_pipeline_has_no_findings():
    assert review(_spec()) == []


def test_the_example_pipeline_file_passes_the_review():
    assert review(load_pipeline_file(IT_SERVICES)) == []


@pytest.mark.parametrize("count", [1, 4, 8])
def test_a_stage_count_outside_five_to_seven_is_a_finding(count):
    spec = _spec([_stage(f"s{n}") for n in range(count)])

    [finding] = review(spec)

    assert finding.code == "stage-count"
    assert finding.message.startswith(f"{count} stage")
    assert "five to seven" in finding.message


def test_a_stage_without_owner_exit_criteria_or_age_limit_is_named():
    stages = [_stage(key) for key in KEYS]
    stages[1] = _stage("discovery", owner="", exit_criteria=(), age_limit_days=None)

    findings = review(_spec(stages))

    assert _codes(findings) == [
        ("no-owner", "stages.1.owner"),
        ("no-exit-criteria", "stages.1.exit_criteria"),
        ("no-age-limit", "stages.1.age_limit_days"),
    ]
    assert findings[0].message == "stage 'discovery' (Discovery requested) has no owner"
    assert findings[0].fix.startswith('give it one owner: "deal-owner"')


def test_a_missing_or_empty_response_window_is_a_finding():
    handoffs = [
        HandoffSpec("lead", "inquiry", 60),
        HandoffSpec("inquiry", "discovery", None),
        HandoffSpec("discovery", "proposal", 60),
        HandoffSpec("review", "contract", 60),
    ]

    findings = review(_spec(handoffs=handoffs))

    assert _codes(findings) == [
        ("no-window", "handoffs.1"),
        ("no-window", "handoffs"),
    ]
    assert findings[1].message == (
        "there is no handoff from 'proposal' to 'review': no response window "
        "times the answer when a deal arrives there"
    )
    assert 'from = "proposal", to = "review"' in findings[1].fix


def test_a_file_finding_is_placed_on_its_line():
    text = IT_SERVICES.read_text(encoding="utf-8").replace(
        'name = "Proposal requested"', 'name = "Proposal sent"'
    )
    spec = parse_pipeline(text, "it.toml")

    [finding] = review(spec)

    line = text.splitlines().index('name = "Proposal sent"') + 1
    assert str(spec.problem(finding.path, finding.message)) == (
        f"it.toml:{line}: stages[2].name: stage 'proposal' (Proposal sent) is "
        "named for what the seller did ('sent'), not for what the buyer did"
    )


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("Proposal sent", "sent"),
        ("Follow-up sent", "sent"),
        ("Followed up", "followed up"),
        ("Demo given", "demo given"),
        ("Contacted", "contacted"),
        ("Called the buyer", "called"),
        ("Proposal requested", None),
        ("Discovery call booked", None),
        ("Quote sent back signed", None),
        ("Inquiry received", None),
        ("Consent form", None),
    ],
)
def test_names_built_on_a_sellers_act_are_told_apart(name, phrase):
    assert seller_act(name) == phrase


def test_a_rule_that_does_not_compile_is_a_finding():
    stages = [_stage(key) for key in KEYS]
    stages[0] = _stage(
        "inquiry", entry_criteria=(CriterionSpec("Typo", "deal.valeu > 1"),)
    )

    [finding] = review(_spec(stages))

    assert (finding.code, finding.path) == (
        "bad-rule",
        ("stages", 0, "entry_criteria", 0, "rule"),
    )
    assert "a deal has no field 'valeu'" in finding.message


def test_a_rule_reading_a_custom_field_the_pipeline_lacks_is_a_finding():
    signed = CriterionSpec("Signed", "deal.custom.sigend == true")

    [finding] = review(
        _spec(
            won_criteria=(signed,),
            custom_fields=(CustomFieldSpec("signed", "Signed", "bool"),),
        )
    )

    assert (finding.code, finding.path) == ("bad-rule", ("won", "criteria", 0, "rule"))
    assert "no custom field 'sigend' (did you mean 'signed'?)" in finding.message


@pytest.mark.parametrize("other", ["nda_signd", "NDA-Signed", "nda_signed2"])
def test_checklist_items_spelled_almost_alike_are_a_finding(other):
    stages = [_stage(key) for key in KEYS]
    stages[1] = _stage(
        "discovery", exit_criteria=(CriterionSpec("NDA", "checklist.nda_signed"),)
    )
    stages[3] = _stage(
        "review", entry_criteria=(CriterionSpec("NDA", f'checklist["{other}"]'),)
    )

    [finding] = review(_spec(stages))

    assert (finding.code, finding.path) == (
        "checklist-spelling",
        ("stages", 3, "entry_criteria", 0, "rule"),
    )
    assert f"'nda_signed' and '{other}' are spelled almost alike" in finding.message
    assert "stages.1.exit_criteria.0.rule" in finding.fix


def test_checklist_items_with_different_names_are_not_a_finding():
    rule = "checklist.nda_signed && checklist.sow_signed && checklist.po"
    stages = [_stage(key) for key in KEYS]
    stages[1] = _stage("discovery", exit_criteria=(CriterionSpec("Papers", rule),))

    assert review(_spec(stages)) == []


def test_data_findings_name_wide_skipped_and_overdue_stages_and_lost_reasons():
    data = PipelineData(
        stages={
            "inquiry": StageData(open_deals=60, share=0.6, median_age_days=4),
            "discovery": StageData(open_deals=10, share=0.1, could_skip=10, skipped=6),
            "proposal": StageData(open_deals=30, share=0.3, median_age_days=7.5),
            "review": StageData(could_skip=4, skipped=4),
        },
        lost=40,
        lost_without_reason=12,
        lost_empty_reason=3,
        lost_placeholder_reason=7,
    )

    findings = review(_spec(), data)

    assert _codes(findings) == [
        ("wide", "stages.0"),
        ("skipped", "stages.1"),
        ("over-limit", "stages.2.age_limit_days"),
        ("lost-no-reason", "loss_reasons"),
    ]
    assert [finding.message for finding in findings] == [
        "stage 'inquiry' (Inquiry requested) holds 60% of the open deals (60), "
        "more than the bottleneck share of 40%",
        "most deals skip stage 'discovery' (Discovery requested): 6 of the 10 "
        "closed deals that could have passed it went around it",
        "open deals have sat in stage 'proposal' (Proposal requested) a median of "
        "7.5 business days, far over its limit of 5",
        "12 of 40 lost deals have no real loss reason (empty, not listed, or a "
        "placeholder such as not-recorded): 3 empty, 2 not listed in "
        "loss_reasons, 7 a placeholder",
    ]


def test_a_share_equal_to_the_bottleneck_share_is_not_wide():
    data = PipelineData(stages={"inquiry": StageData(open_deals=4, share=0.4)})

    assert review(_spec(), data) == []


def test_a_pipeline_without_loss_reasons_is_a_finding_saying_what_a_loss_needs():
    [finding] = review(_spec(loss_reasons=()))

    assert (finding.code, finding.path) == ("no-loss-reasons", ("loss_reasons",))
    assert finding.message == (
        "the pipeline lists no loss reasons: a lost deal then needs a note saying "
        "why, and no reason is stored, so losses cannot be counted by reason"
    )
    assert finding.fix.startswith("list the reasons deals are lost for")


def test_loss_labels_alike_but_for_case_are_a_finding_naming_the_one_chosen():
    reasons = (
        LossReasonSpec("price", "Too expensive"),
        LossReasonSpec("cost", "too  EXPENSIVE"),
    )

    [finding] = review(_spec(loss_reasons=reasons))

    assert (finding.code, finding.path) == (
        "alike-loss-labels",
        ("loss_reasons", 1, "label"),
    )
    assert finding.message == (
        "loss reason 'cost' is labelled 'too  EXPENSIVE', as 'price' is but for "
        "case or spacing: a reason chosen by that label is always 'price'"
    )


def test_a_loss_label_that_is_another_reasons_key_is_a_finding():
    reasons = (
        LossReasonSpec("price", "Other"),
        LossReasonSpec("other", "Price", needs_note=True),
    )

    findings = review(_spec(loss_reasons=reasons))

    assert [(f.code, f.path) for f in findings] == [
        ("loss-label-is-a-key", ("loss_reasons", 0, "label")),
        ("loss-label-is-a-key", ("loss_reasons", 1, "label")),
    ]
    assert findings[1].message == (
        "loss reason 'other' is labelled 'Price', which is the key of loss reason "
        "'price': a loss chosen by that label is recorded as 'price', without the "
        "note 'other' may need"
    )


def test_a_loss_label_equal_to_its_own_key_is_not_a_finding():
    reasons = (LossReasonSpec("price", "Price"), LossReasonSpec("other", "other"))

    assert review(_spec(loss_reasons=reasons)) == []


@pytest.mark.parametrize(
    ("rule", "day"),
    [
        ("today.getDayOfMonth() == 1", 1),
        ("1 == today.getDayOfMonth()", 1),
        ("deal.expected_close_date.getDayOfMonth() != 31", 31),
    ],
)
def test_a_day_of_month_compared_as_if_counted_from_one_is_a_finding(rule, day):
    stages = [_stage(key) for key in KEYS]
    stages[1] = _stage(
        "discovery",
        exit_criteria=(
            CriterionSpec("Met", "held('meeting', 'discovery')"),
            CriterionSpec("Month start", rule),
        ),
    )

    [finding] = review(_spec(stages))

    assert (finding.code, finding.path) == (
        "day-of-month-from-zero",
        ("stages", 1, "exit_criteria", 1, "rule"),
    )
    assert f"compares getDayOfMonth() with {day}, as if it counted from 1" in (
        finding.message
    )
    assert f"getDate() == {day}" in finding.fix


@pytest.mark.parametrize(
    "rule", ["today.getDayOfMonth() == 14", "today.getDate() == 1"]
)
def test_other_days_of_the_month_are_not_a_finding(rule):
    stages = [_stage(key) for key in KEYS]
    stages[1] = _stage(
        "discovery",
        exit_criteria=(
            CriterionSpec("Met", "held('meeting', 'discovery')"),
            CriterionSpec("Mid month", rule),
        ),
    )

    assert review(_spec(stages)) == []
