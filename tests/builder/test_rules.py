"""Criteria from the form: each kind gives a rule that compiles and a label."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.builder.forms import CriterionForm
from dealgate.builder.rules import Choice, criterion_from
from dealgate.core.criteria import check_rule
from dealgate.core.pipeline_file import CriterionSpec, CustomFieldSpec
from dealgate.errors import ValidationError

CUSTOM = (CustomFieldSpec("decision_date", "Decision date", "date"),)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (
            Choice("field", field="custom.decision_date"),
            CriterionSpec("Decision date is set", "deal.custom.decision_date != null"),
        ),
        (
            Choice("field", field="expected_close_date"),
            CriterionSpec(
                "Expected close date is set", "deal.expected_close_date != null"
            ),
        ),
        (
            Choice("checkbox", checkbox="nda_signed"),
            CriterionSpec("Nda signed ticked", "checklist.nda_signed == true"),
        ),
        (
            Choice("held", activity="meeting", tag="discovery"),
            CriterionSpec(
                "A meeting (discovery) was held", 'held("meeting", "discovery")'
            ),
        ),
        (
            Choice("held", activity="call", label="We spoke"),
            CriterionSpec("We spoke", 'held("call")'),
        ),
        (
            Choice("value", amount=Decimal("5000.00")),
            CriterionSpec(
                "The value is above 5000", "deal.value != null && deal.value > 5000"
            ),
        ),
        (
            Choice("rule", label="Recent", rule="now - deal.created_at < days(30)"),
            CriterionSpec("Recent", "now - deal.created_at < days(30)"),
        ),
    ],
)
def test_each_kind_gives_a_label_and_a_rule_that_compiles(choice, expected):
    criterion = criterion_from(choice, CUSTOM)

    assert criterion == expected
    assert check_rule(criterion.rule) is None


@pytest.mark.parametrize(
    ("choice", "field"),
    [
        (Choice("field", field="custom.missing"), "field"),
        (Choice("checkbox", checkbox="NDA signed"), "checkbox"),
        (Choice("held", activity="meeting", tag='x" || true || "'), "tag"),
        (Choice("value", amount=Decimal("-1")), "amount"),
        (Choice("rule", rule="deal.value > 1"), "label"),
    ],
)
def test_a_choice_that_cannot_be_written_names_its_field(choice, field):
    with pytest.raises(ValidationError) as caught:
        criterion_from(choice, CUSTOM)

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("currency", "typed", "read", "says"),
    [
        ("KWD", "1.234", None, "1.234 has 3 decimal places; Dealgate keeps KWD"),
        ("KWD", "1.500", Decimal("1.50"), None),
        ("USD", "1.500", None, "could mean 1500 or 1.5"),
        ("JPY", "1000.5", None, "1000.5 has 1 decimal place; JPY amounts have 0"),
        ("EUR", "18,500.50", Decimal("18500.50"), None),
    ],
)
def test_a_criterion_amount_is_read_in_the_pipelines_currency(
    currency, typed, read, says
):
    form = CriterionForm(
        {"kind": "value", "amount": typed}, currency=currency, custom=()
    )

    assert form.is_valid() is (says is None), form.errors
    if says is None:
        assert form.cleaned_data["amount"] == read
    else:
        assert says in form.errors["amount"][0]
