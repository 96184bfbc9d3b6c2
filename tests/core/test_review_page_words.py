"""One review, two wordings: a file's findings name keys and lines, a page's
the names and labels the builder shows."""

from __future__ import annotations

from dataclasses import replace

from dealgate.core.review import PipelineData, review
from tests.core.review_specs import spec, spec_with, stage


def test_a_renamed_stage_is_named_by_its_name_on_a_page_and_by_its_key_in_a_file():
    renamed = stage("review", name="Proposal sent", owner="")
    findings = review(spec_with(renamed))

    file_words = [f.message for f in findings]
    page_words = [f.page.message for f in findings]

    assert "stage 'review' (Proposal sent) has no owner" in file_words
    assert 'stage "Proposal sent" has no owner' in page_words
    assert not any("'review'" in words for words in page_words)


def test_unticked_breach_actions_are_said_in_the_stage_forms_words_on_a_page():
    silent = replace(stage("review"), breach={"on_breach": []})
    [finding] = review(spec_with(silent))

    assert "on_breach = []" in finding.message
    assert 'on_breach = ["mark_at_risk", "notify"]' in finding.fix
    page = finding.page
    assert "on_breach" not in page.message + page.fix
    assert "mark_at_risk" not in page.fix
    assert page.message.startswith('stage "Review requested" does nothing')
    assert '"Mark the deal at risk"' in page.fix
    assert '"Use the pipeline\'s default"' in page.fix


def test_losses_without_a_reason_name_no_file_key_on_a_page():
    data = PipelineData(
        lost=10, lost_without_reason=4, lost_empty_reason=1, lost_placeholder_reason=1
    )
    [finding] = review(spec(), data)

    assert "not listed in loss_reasons" in finding.message
    assert "loss_reasons" not in finding.page.message + finding.page.fix
    assert "not-recorded" not in finding.page.message
    assert "2 not among the pipeline's loss reasons" in finding.page.message


def test_a_missing_handoff_names_the_stage_on_a_page_and_the_key_in_a_file():
    without = spec(handoffs=[])
    first = review(without)[0]

    assert "from a new lead to 'inquiry'" in first.message
    assert '[[handoffs]] from = "lead"' in first.fix
    assert 'from a new lead to stage "Inquiry requested"' in first.page.message
    assert "[[handoffs]]" not in first.page.fix


def test_a_finding_worded_alike_for_both_keeps_one_wording():
    findings = review(spec(stages=[stage("inquiry")]))
    count = next(f for f in findings if f.code == "stage-count")

    assert count.page == count
