"""The design review's checks of faults a pipeline's rules hide: criteria
that can never hold, win probabilities that fall, stages left the same way,
and breach rules that do nothing. Crafted specs and files, one fault each."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dealgate.core.pipeline_file import (
    CriterionSpec,
    load_pipeline_file,
    parse_pipeline,
)
from dealgate.core.review import never_holds, review
from tests.conftest import REPO_ROOT
from tests.core.review_specs import KEYS
from tests.core.review_specs import codes as _codes
from tests.core.review_specs import spec_with as _spec
from tests.core.review_specs import stage as _stage

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
DEMO = REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"
NEW_CODES = {
    "never-holds",
    "probability-falls",
    "same-exit-criteria",
    "no-breach-actions",
}


def test_the_crafted_pipeline_has_no_findings():
    assert review(_spec()) == []


@pytest.mark.parametrize("path", [IT_SERVICES, DEMO], ids=lambda p: p.parent.name)
def test_the_example_and_demo_pipelines_get_none_of_these_findings(path):
    codes = {finding.code for finding in review(load_pipeline_file(path))}

    assert codes & NEW_CODES == set()


# --- criteria that can never hold ----------------------------------------------


def test_an_entry_criterion_that_is_false_keeps_every_deal_out():
    never = CriterionSpec("Never", "false")
    spec = _spec(_stage("proposal", entry_criteria=(never,)))

    [finding] = review(spec)

    assert _codes([finding]) == [("never-holds", "stages.2.entry_criteria.0.rule")]
    assert finding.message == (
        "'Never' can never hold (it is false): no deal can enter stage "
        "'proposal' (Proposal requested)"
    )
    assert finding.fix == "write the condition the criterion stands for, or remove it"


def test_an_entry_range_no_value_meets_is_found_and_shown():
    rule = "deal.value != null && deal.value > 10 && deal.value < 5"
    spec = _spec(_stage("review", entry_criteria=(CriterionSpec("Sized", rule),)))

    [finding] = review(spec)

    assert _codes([finding]) == [("never-holds", "stages.3.entry_criteria.0.rule")]
    assert "deal.value > 10 && deal.value < 5 cannot all be true" in finding.message
    assert "no deal can enter stage 'review'" in finding.message
    assert finding.fix.startswith("correct the bounds")


def test_a_file_names_the_line_of_the_criterion_that_never_holds():
    text = IT_SERVICES.read_text(encoding="utf-8").replace(
        'rule = "deal.custom.engagement != null"',
        'rule = "deal.value >= 50000 && deal.value <= 20000"',
    )
    spec = parse_pipeline(text, "it-services.toml")

    [finding] = [f for f in review(spec) if f.code == "never-holds"]

    problem = spec.problem(finding.path, finding.message)
    assert problem.line == text[: text.index("deal.value >= 50000")].count("\n") + 1
    assert str(problem).startswith(
        f"it-services.toml:{problem.line}: stages[2].entry_criteria[0].rule: "
    )


@pytest.mark.parametrize(
    "rule",
    [
        "false",
        "(false)",
        "held('meeting', 'a && b') && false",
        "deal.value > 10 && deal.value < 5",
        "(deal.value > 10) && (deal.value < 5)",
        "deal.value > 5 && deal.value <= 5",
        "deal.value >= 5 && deal.value < 5",
        "5 < deal.value && deal.value < 5",
        "deal.value == 5 && deal.value != 5",
        "deal.value == 1 && deal.value == 2",
        "deal.custom.seats >= 10 && deal.value > 0 && deal.custom.seats < 2.5",
    ],
)
def test_rules_no_deal_can_meet_are_told(rule):
    assert never_holds(rule) is not None


@pytest.mark.parametrize(
    "rule",
    [
        "true",
        "deal.value > 0",
        "deal.value >= 5 && deal.value <= 5",
        "deal.value > 10 || deal.value < 5",
        "!(deal.value > 10 && deal.value < 5)",
        "deal.value > 10 ? false : true",
        "deal.value > 10 && deal.custom.budget < 5",
        "deal.value != 5 && deal.value > 4",
        "deal.title == 'false'",
        "size(deal.title) > 10 && deal.value < 5",
    ],
)
def test_rules_that_may_hold_or_cannot_be_decided_are_left_alone(rule):
    assert never_holds(rule) is None


def test_an_exit_criterion_that_never_holds_keeps_deals_in():
    never = CriterionSpec("Signed twice", "deal.value > 10 && deal.value < 5")
    spec = _spec(_stage("contract", exit_criteria=(never,), probability=50))

    [finding] = review(spec)

    assert _codes([finding]) == [("never-holds", "stages.4.exit_criteria.0.rule")]
    assert finding.message.endswith(
        "no deal can leave stage 'contract' (Contract requested) forward"
    )


def test_with_any_exit_criterion_enough_one_that_never_holds_blocks_nothing():
    exits = (
        CriterionSpec("Never", "false"),
        CriterionSpec("Met", "held('meeting', 'contract')"),
    )
    stage = _stage("contract", exit_criteria=exits, exit_criteria_mode="any")

    assert review(_spec(stage)) == []


def test_a_won_criterion_that_never_holds_means_no_deal_is_won():
    spec = _spec(won_criteria=(CriterionSpec("Impossible", "false"),))

    [finding] = review(spec)

    assert _codes([finding]) == [("never-holds", "won.criteria.0.rule")]
    assert finding.message.endswith("no deal can be won")


# --- win probabilities ------------------------------------------------------------


def test_a_stage_less_likely_to_win_than_an_earlier_one_is_a_finding():
    spec = _spec(
        _stage("inquiry", probability=10),
        _stage("discovery", probability=40),
        _stage("proposal", probability=30),
        _stage("review", probability=50),
        _stage("contract", probability=80),
    )

    [finding] = review(spec)

    assert _codes([finding]) == [("probability-falls", "stages.2.probability")]
    assert finding.message.startswith(
        "stage 'proposal' (Proposal requested) has a 30% chance to win, less "
        "than the 40% of stage 'discovery' (Discovery requested) before it"
    )


def test_each_stage_below_the_highest_before_it_is_named_once():
    probabilities = [10, 60, 30, 40, 80]
    spec = _spec(
        *(
            _stage(key, probability=p)
            for key, p in zip(KEYS, probabilities, strict=True)
        )
    )

    findings = review(spec)

    assert _codes(findings) == [
        ("probability-falls", "stages.2.probability"),
        ("probability-falls", "stages.3.probability"),
    ]
    assert all("60% of stage 'discovery'" in f.message for f in findings)


def test_equal_probabilities_in_a_row_are_no_finding():
    spec = _spec(*(_stage(key, probability=25) for key in KEYS))

    assert review(spec) == []


# --- the same exit criteria --------------------------------------------------------


def test_two_stages_left_by_the_same_criteria_overlap():
    exits = (
        CriterionSpec("Call held", "held('meeting', 'call')"),
        CriterionSpec("Budget named", "deal.expected_close_date != null"),
    )
    relabelled = tuple(reversed([replace(c, label=c.label + "!") for c in exits]))
    spec = _spec(
        _stage("discovery", exit_criteria=exits),
        _stage("review", exit_criteria=relabelled),
    )

    [finding] = review(spec)

    assert _codes([finding]) == [("same-exit-criteria", "stages.3.exit_criteria")]
    assert finding.message.startswith(
        "stage 'review' (Review requested) has the same exit criteria as "
        "stage 'discovery' (Discovery requested): the buyer does the same "
        "thing to leave both"
    )


def test_exit_criteria_that_share_only_some_rules_do_not_overlap():
    one = CriterionSpec("Call held", "held('meeting', 'call')")
    two = CriterionSpec("Budget named", "deal.expected_close_date != null")
    spec = _spec(
        _stage("discovery", exit_criteria=(one, two)),
        _stage("review", exit_criteria=(one,)),
    )

    assert review(spec) == []


def test_the_same_criteria_asked_all_and_any_do_not_overlap():
    exits = (
        CriterionSpec("Call held", "held('meeting', 'call')"),
        CriterionSpec("Budget named", "deal.expected_close_date != null"),
    )
    spec = _spec(
        _stage("discovery", exit_criteria=exits),
        _stage("review", exit_criteria=exits, exit_criteria_mode="any"),
    )

    assert review(spec) == []


# --- breach actions -----------------------------------------------------------------


def test_a_stage_with_no_breach_actions_leaves_its_age_limit_unenforced():
    spec = _spec(_stage("proposal", breach={"on_breach": []}))

    [finding] = review(spec)

    assert _codes([finding]) == [("no-breach-actions", "stages.2.on_breach")]
    assert finding.message == (
        "stage 'proposal' (Proposal requested) has on_breach = []: nothing "
        "happens when a deal passes its age limit, so the limit is not enforced"
    )


def test_an_empty_default_is_named_with_the_stages_that_rely_on_it():
    own = {"on_breach": ["notify"]}
    stages = [_stage(key, breach=own) for key in KEYS[:3]]
    spec = _spec(*stages, breach={"on_breach": []})

    [finding] = review(spec)

    assert _codes([finding]) == [("no-breach-actions", "breach.on_breach")]
    assert "the age limit of 'review', 'contract'" in finding.message


def test_an_empty_default_no_stage_relies_on_is_no_finding():
    own = {"on_breach": ["notify"]}
    spec = _spec(*(_stage(key, breach=own) for key in KEYS), breach={"on_breach": []})

    assert review(spec) == []


def test_a_file_with_an_empty_default_names_its_line():
    default = 'on_breach = ["mark_at_risk", "notify", "escalate"]'
    text = IT_SERVICES.read_text(encoding="utf-8").replace(default, "on_breach = []")
    spec = parse_pipeline(text, "it-services.toml")

    [finding] = [f for f in review(spec) if f.code == "no-breach-actions"]

    problem = spec.problem(finding.path, finding.message)
    assert problem.line == text[: text.index("on_breach = []")].count("\n") + 1
    assert str(problem).startswith(
        f"it-services.toml:{problem.line}: breach.on_breach:"
    )
    assert "'inquiry', 'discovery', 'proposal', 'review'" in finding.message
    assert "'contract'" not in finding.message  # it sets its own actions
