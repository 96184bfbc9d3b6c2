"""Every figure a person reads rounds halves up, on its decimal digits, the
same on pages, in text reports and in CSV exports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealgate.core import blueprint as bp
from dealgate.core.rounding import figure, fixed, percent, rounded, whole
from dealgate.insights.tables import Column, _raw, format_value
from dealgate.leads.report import LeadReport


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (15.125, 2, "15.13"),
        (42.5, 0, "43"),
        (1.25, 1, "1.3"),
        (2.675, 2, "2.68"),  # 2.67499... in binary: the digits written count
        (0.5, 0, "1"),
        (-0.5, 0, "-1"),
        (-0.04, 1, "0.0"),
        (Decimal("1.005"), 2, "1.01"),
        (7, 1, "7.0"),
    ],
)
def test_halves_round_up_on_the_digits_as_written(value, places, text):
    assert fixed(value, places) == text


def test_grouped_figures_round_before_they_are_grouped():
    assert fixed(1234.5, grouped=True) == "1,235"
    assert fixed(999999.95, 1, grouped=True) == "1,000,000.0"


def test_whole_percent_and_rounded_agree_with_fixed():
    assert whole(42.5) == 43 and whole(41.5) == 42
    assert percent(0.0125) == "1.3%" and percent(0.125, 0) == "13%"
    assert rounded(1.23455, 4) == Decimal("1.2346")


def test_insights_figures_and_their_csv_round_halves_up():
    assert format_value(Column("Median cycle", "number"), 15.125) == "15.13"
    assert format_value(Column("Days", "days"), 1.25) == "1.3"
    assert format_value(Column("Share", "percent"), 0.0125) == "1.3%"
    assert format_value(Column("Won", "money", currency="USD"), 0.125) == "$0.13"
    # The export keeps four places, its last rounded the same way.
    assert _raw(Column("Days", "days"), 1.23455) == 1.2346
    assert _raw(Column("Share", "percent"), 0.0123455) == 1.2346
    assert _raw(Column("Won", "money"), 0.125) == "0.13"


def test_the_lead_report_rounds_a_half_minute_median_up():
    report = LeadReport(
        "new-business",
        None,
        leads=1,
        answered=1,
        window_minutes=15,
        response_business_median=42.5,
        response_wall_median_minutes=60.5,
        days_to_win_median=2.5,
        days_to_win_p80=3.5,
        won=1,
    )

    assert "a median 43 business minutes (61 minutes of wall" in (
        report.response_summary
    )
    text = "\n".join(report.lines())
    assert "median 43 business min (61 min wall)" in text
    assert "median 3 days, 80% within 4 days" in text


def test_blueprint_wording_rounds_halves_up():
    assert bp._days(1.25) == "1.3"
    assert bp._span(42.5, 480) == "43 min"
    assert bp._span(75, 480) == "1.3 h"  # 1.25 hours
    assert bp._span(600, 480) == "1.3 working days"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(113.0, "113"), (113.04, "113"), (2.25, "2.3"), (0.95, "1"), (1234.5, "1,234.5")],
)
def test_a_figure_drops_the_decimals_of_a_whole_number(value, shown):
    assert figure(value, 1, grouped=True) == shown


def test_the_figure_filter_writes_none_as_nothing_for_a_default():
    from dealgate.web.templatetags.dealgate_format import figure as figure_filter

    assert figure_filter(None) == ""
    assert figure_filter(113.0) == "113"
