"""`pipeline export` writes the calendar and the breach rules in the order
the file format lists them, whatever order the database keeps them in
(PostgreSQL's jsonb sorts keys by length, then by byte), so one file exports
the same text on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dealgate.cli import main
from dealgate.core.pipeline_file import dump_pipeline, parse_pipeline
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline, export_pipeline

# Every calendar and breach key, written in an order of its own.
SCRAMBLED = """
key = "ordered"
name = "Ordered"

[calendar]
short_days = { "2026-12-30" = ["09:00-12:00"], "2026-12-23" = ["09:00-13:00"] }
holidays = { subdivision = "BE", country = "DE" }
closed_days = ["2026-12-31", "2026-12-24"]
timezone = "Europe/Berlin"

[calendar.hours]
sat = ["10:00-12:00"]
fri = ["09:00-13:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
tue = ["09:00-17:00"]
mon = ["09:00-17:00"]

[[stages]]
key = "inquiry"
name = "Inquiry received"
buyer_action = "The buyer wrote"
owner = "deal-owner"
age_limit_days = 2
probability = 5
sequence = [{ task = "Ask again", after = "1d" }]
on_breach = ["notify", "sequence"]

[[handoffs]]
from = "lead"
to = "inquiry"
response_window = "4h"
escalate_after = "30m"

[breach]
sequence = [{ task = "Call again", after = "2d" }]
task = "Follow up with the buyer"
escalate_after = "1d"
on_breach = ["mark_at_risk", "notify", "escalate", "sequence"]

[breach.next_steps]
escalate_after = "2h"
on_breach = ["notify"]
"""

CALENDAR = """\
[calendar]
timezone = "Europe/Berlin"
holidays = { country = "DE", subdivision = "BE" }
closed_days = ["2026-12-31", "2026-12-24"]

[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-13:00"]
sat = ["10:00-12:00"]

[calendar.short_days]
2026-12-23 = ["09:00-13:00"]
2026-12-30 = ["09:00-12:00"]
"""

BREACH = """\
[breach]
on_breach = ["mark_at_risk", "notify", "escalate", "sequence"]
escalate_after = "1d"
task = "Follow up with the buyer"
sequence = [{ after = "2d", task = "Call again" }]

[breach.next_steps]
on_breach = ["notify"]
escalate_after = "2h"
"""

STAGE_BREACH = """\
on_breach = ["notify", "sequence"]
sequence = [{ after = "1d", task = "Ask again" }]
"""


@pytest.fixture
def exported(db, capsys) -> str:
    """The scrambled file applied, then exported by the command."""
    apply_pipeline(parse_pipeline(SCRAMBLED, "ordered.toml"))
    capsys.readouterr()
    assert main(["pipeline", "export", "ordered"]) == 0
    return capsys.readouterr().out


def test_export_writes_the_calendar_in_the_formats_order(exported):
    assert CALENDAR in exported


def test_export_writes_breach_rules_in_the_formats_order(exported):
    assert BREACH in exported
    assert STAGE_BREACH in exported


def test_export_is_the_files_canonical_text_on_this_database(exported):
    # The same text without a database: the dump orders what it is given.
    assert exported == dump_pipeline(parse_pipeline(SCRAMBLED, "ordered.toml"))


def test_export_gives_back_the_pipeline_as_applied(exported):
    stored = export_pipeline(Pipeline.objects.get(key="ordered"))

    assert parse_pipeline(exported, "exported.toml") == stored


def test_the_dump_does_not_depend_on_the_order_of_its_mappings():
    spec = parse_pipeline(SCRAMBLED, "ordered.toml")
    reversed_calendar = {
        key: dict(reversed(value.items())) if isinstance(value, dict) else value
        for key, value in reversed(spec.calendar.items())
    }
    reversed_breach = dict(reversed(spec.breach.items()))

    again = replace(spec, calendar=reversed_calendar, breach=reversed_breach)

    assert dump_pipeline(again) == dump_pipeline(spec)
