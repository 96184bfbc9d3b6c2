"""The plan page names every change as the builder's forms and the deal
page do (labels, names, "deals may skip stages"), while the command line's
plan (`dealgate pipeline apply`) keeps the file's keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dealgate.core.pipeline_file import parse_pipeline
from dealgate.pipelines.services import plan_pipeline
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import text_of

FILE_PAGE = "/pipelines/it-services/edit/file/"
APPLY_PAGE = "/pipelines/it-services/apply/"


def _edited(*swaps: tuple[str, str]) -> str:
    text = IT_SERVICES.read_text(encoding="utf-8")
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@pytest.fixture
def planned(admin_client, it_services):
    """Save an edited file as the draft; give the plan page's text and the
    command line's plan lines of the same file."""

    def plan(*swaps: tuple[str, str]) -> tuple[str, list[str]]:
        text = _edited(*swaps)
        post(admin_client, FILE_PAGE, {"text": text})
        page = text_of(admin_client.get(APPLY_PAGE))
        cli = plan_pipeline(parse_pipeline(text, "it-services.toml")).lines()
        return page, cli

    return plan


def test_the_pipelines_settings_are_named_by_the_forms_labels(planned):
    page, cli = planned(
        ('name = "IT services: new business"', 'name = "IT services"'),
        ("allow_skipping = false", "allow_skipping = true"),
    )

    assert (
        'change the pipeline: name "IT services: new business" -> "IT services", '
        "deals may skip stages no -> yes" in page
    )
    assert "allow skipping" not in page
    assert (
        'change pipeline: name "IT services: new business" -> "IT services", '
        "allow skipping false -> true" in cli
    )


def test_the_calendar_is_named_by_the_time_zone_and_its_parts(planned):
    page, cli = planned(
        ('timezone = "Europe/Berlin"', 'timezone = "Europe/Vienna"'),
        ('subdivision = "BE"', 'subdivision = "BY"'),
    )

    assert "change the pipeline's calendar: " in page
    assert 'time zone "Europe/Berlin" -> "Europe/Vienna"' in page
    assert "public holidays changed" in page
    assert "timezone" not in page
    line = next(line for line in cli if line.startswith("change calendar: "))
    assert 'timezone "Europe/Berlin" -> "Europe/Vienna"' in line
    assert "holidays changed" in line


def test_won_criteria_are_named_by_their_labels(planned):
    page, cli = planned(('label = "Start date agreed"', 'label = "Start date fixed"'))

    assert (
        'change the won criteria: add "Start date fixed"; remove "Start date agreed"'
        in page
    )
    assert 'won criteria: add "Start date fixed"; remove "Start date agreed"' in cli


def test_loss_reasons_are_named_by_their_labels(planned):
    page, cli = planned(
        (
            'label = "Price too high"\nneeds_note = false',
            'label = "Price too high"\nneeds_note = true',
        ),
        ('key = "no-budget"', 'key = "no-money"'),
    )

    assert 'change loss reason "Price too high": needs a note no -> yes' in page
    assert 'add loss reason "No budget this year"' in page
    assert 'remove loss reason "No budget this year"' in page
    assert "'price'" not in page
    assert "'no-budget'" not in page
    assert "change loss reason 'price': needs note false -> true" in cli
    assert "remove loss reason 'no-budget' (No budget this year)" in cli


def test_custom_fields_are_named_by_their_labels(planned):
    page, cli = planned(
        (
            'label = "Agreed start date"\ntype = "date"',
            'label = "Start date"\ntype = "text"',
        ),
    )

    assert (
        'change custom field "Agreed start date": label "Agreed start date" -> '
        '"Start date", type "date" -> "text"' in page
    )
    assert "'start_date'" not in page
    assert (
        "change custom field 'start_date': label \"Agreed start date\" -> "
        '"Start date", type "date" -> "text"' in cli
    )


def test_a_custom_fields_type_is_said_as_the_deal_page_asks_it(it_services):
    spec = parse_pipeline(IT_SERVICES.read_text(encoding="utf-8"), "it.toml")
    fields = [
        replace(field, type="choice", choices=("yes", "no"))
        if field.key == "signed"
        else field
        for field in spec.custom_fields
    ]

    plan = plan_pipeline(replace(spec, custom_fields=tuple(fields)))

    said = [line for line in plan.lines(page=True) if "custom field" in line]
    assert said[0].startswith(
        'change custom field "Contract signed": type "yes or no" -> "a choice"'
    )


def test_a_new_order_of_loss_reasons_is_said_by_their_labels(it_services):
    spec = parse_pipeline(IT_SERVICES.read_text(encoding="utf-8"), "it.toml")
    reasons = spec.loss_reasons
    spec = replace(spec, loss_reasons=(reasons[1], reasons[0], *reasons[2:]))

    plan = plan_pipeline(spec)

    said = plan.lines(page=True)
    assert (
        'reorder the loss reasons: "Chose another provider", "Price too high"'
        in (said[0])
    )
    assert plan.lines()[0].startswith("reorder loss reasons: competitor, price")


def test_routing_rules_are_named_as_rules_of_new_leads(planned):
    page, cli = planned(('name = "everyone else"', 'name = "everyone left"'))

    assert (
        'change the routing rules of new leads: add rule "everyone left"; '
        'remove rule "everyone else"' in page
    )
    assert 'change routing rules: add "everyone left"; remove "everyone else"' in cli


def test_a_new_pipeline_is_named_by_its_name(it_services):
    spec = parse_pipeline(IT_SERVICES.read_text(encoding="utf-8"), "it.toml")
    spec = replace(spec, key="renewals", name="Renewals")

    plan = plan_pipeline(spec)

    assert plan.lines(page=True)[0] == 'create the pipeline "Renewals"'
    assert plan.lines()[0] == "create pipeline 'renewals' (Renewals)"


def test_a_handoffs_breach_rule_is_named_by_its_stages(planned):
    page, cli = planned(
        (
            'response_window = "1h"  # a referral',
            'on_breach = ["notify"]\nresponse_window = "1h"  # a referral',
        )
    )

    assert (
        'the handoff from a new lead to stage "Discovery call booked": notify'
        in page.replace("Notify", "notify")
    )
    assert "lead->discovery" not in page
    assert any("handoff lead->discovery" in line for line in cli)


def test_a_handoffs_window_and_who_answers_are_said_as_its_form_offers_them(
    planned,
):
    page, cli = planned(
        (
            'response_window = "2h"  # send the invitation and an agenda\n'
            'responsible = "stage-owner"',
            'response_window = "3h"\nresponsible = "deal-owner"',
        )
    )

    assert (
        'change the handoff from stage "Inquiry received" to stage '
        '"Discovery call booked": answered within 2h -> 3h, answered by '
        "the stage's owner -> the deal's owner" in page
    )
    assert "stage-owner" not in page
    assert (
        "change handoff inquiry -> discovery: window 2h -> 3h, "
        'responsible "stage-owner" -> "deal-owner"' in cli
    )


def test_a_new_pipelines_handoffs_say_who_answers_in_the_forms_words(it_services):
    spec = parse_pipeline(IT_SERVICES.read_text(encoding="utf-8"), "it.toml")
    spec = replace(spec, key="renewals", name="Renewals")

    page = plan_pipeline(spec).lines(page=True)

    assert (
        'add the handoff from a new lead to stage "Inquiry received" '
        "(answered within 15m by the stage's owner)" in page
    )
    assert not any("stage-owner" in line for line in page)


def test_the_first_plan_of_a_new_pipeline_names_no_change_that_changes_nothing(
    admin_client, demo_people, now
):
    # Started on the builder's page, then filled from the example file: the
    # pipeline's row holds no breach rules yet, so its default actions are
    # the clocks' own, which the file writes out.
    post(
        admin_client,
        "/pipelines/new/",
        {"name": "IT services", "key": "it-services", "timezone": "Europe/Berlin"},
    )
    post(admin_client, FILE_PAGE, {"text": IT_SERVICES.read_text(encoding="utf-8")})

    text = text_of(admin_client.get(APPLY_PAGE))

    assert 'add stage "Inquiry received"' in text
    actions = (
        "Mark the deal at risk; Notify the person responsible; "
        "Escalate to their manager after one more window"
    )
    assert f"{actions} (was: {actions})" not in text
    assert "the pipeline's default: its escalate after setting changed" in text
