"""The checklist items a pipeline file's rules name keep to the limits a
deal's checklist has (one line, at most CHECKLIST_KEY_LIMIT characters, at
most MOST_CHECKLIST_ITEMS items): the deal page shows every item the rules
name and saves them with the deal, so a file naming one it would refuse is
refused itself, naming the file, the line and the key."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from dealgate.cli import main
from dealgate.core.checklist import (
    CHECKLIST_KEY_LIMIT,
    MOST_CHECKLIST_ITEMS,
    items_in_rule,
)
from dealgate.core.pipeline_file import check_pipeline, parse_pipeline
from dealgate.deals.models import Deal
from dealgate.deals.services import checklist_items, update_deal
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from dealgate.web.deal_forms import read_edit
from tests.test_pipeline_file import BASE, line_of, problems_of
from tests.web.helpers import make_deal

NEED = 'rule = "deal.custom.need != null"'
LONG_KEY = "k" * (CHECKLIST_KEY_LIMIT + 1)


def _with_rule(rule: str) -> str:
    text = BASE.replace(NEED, f"rule = {rule}")
    assert text != BASE
    return text


def test_a_rule_naming_a_key_past_the_limit_is_refused_on_its_line():
    text = _with_rule(f"'checklist.{LONG_KEY} == true'")

    problems = problems_of(text)

    line = line_of(text, LONG_KEY)
    assert problems == [
        f"p.toml:{line}: stages[0].exit_criteria[0].rule: checklist key "
        f"'{'k' * 39}…' is {CHECKLIST_KEY_LIMIT + 1:,} characters long; the limit "
        f"is {CHECKLIST_KEY_LIMIT}"
    ]


def test_a_quoted_key_past_the_limit_is_refused_too():
    text = _with_rule(f"'checklist[\"{'x ' * 60}\"] == true'")

    (problem,) = problems_of(text)

    assert "stages[0].exit_criteria[0].rule: checklist key 'x x" in problem
    assert "is 120 characters long; the limit is 100" in problem


def test_a_key_of_exactly_the_limit_is_taken():
    key = "k" * CHECKLIST_KEY_LIMIT
    text = _with_rule(f"'checklist.{key} == true'")

    assert problems_of_or_none(text) is None


@pytest.mark.parametrize("escape", ["\\u0007", "\\u2028"])
def test_a_key_with_a_control_character_or_line_break_is_refused(escape):
    text = _with_rule(f'"checklist[\\"nda{escape}signed\\"] == true"')

    (problem,) = problems_of(text)

    assert "stages[0].exit_criteria[0].rule: checklist key 'nda" in problem
    assert problem.endswith(
        "signed' must be one line, without line breaks or control characters"
    )


def test_a_blank_key_is_refused():
    text = _with_rule("'checklist[\" \"] == true'")

    (problem,) = problems_of(text)

    assert problem.endswith("checklist: an item needs a key, such as nda_signed")


def _many_items(count: int, first: str = "item_0") -> str:
    """The first stage's exit criteria naming `count` items, 20 a rule,
    `first` first."""
    keys = [first] + [f"item_{n}" for n in range(1, count)]
    rules = [
        " && ".join(f"checklist.{key}" for key in keys[start : start + 20])
        for start in range(0, count, 20)
    ]
    criteria = ",\n".join(
        f'  {{ label = "Items {n}", rule = "{rule}" }}' for n, rule in enumerate(rules)
    )
    text = BASE.replace(
        '  { label = "Need written down", rule = "deal.custom.need != null" },',
        criteria,
    )
    assert text != BASE
    return text


def test_rules_naming_more_items_than_a_deal_holds_are_refused_naming_the_key():
    text = _many_items(MOST_CHECKLIST_ITEMS + 1)

    problems = problems_of(text)

    line = line_of(text, f"checklist.item_{MOST_CHECKLIST_ITEMS}")
    last = MOST_CHECKLIST_ITEMS // 20
    assert problems == [
        f"p.toml:{line}: stages[0].exit_criteria[{last}].rule: checklist key "
        f'"item_{MOST_CHECKLIST_ITEMS}" makes the rules name '
        f"{MOST_CHECKLIST_ITEMS + 1} checklist items; a deal's checklist holds at "
        f"most {MOST_CHECKLIST_ITEMS}"
    ]


def test_items_are_counted_across_the_file_once_each():
    repeated = _many_items(MOST_CHECKLIST_ITEMS).replace(
        'rule = "deal.custom.c != null"', 'rule = "checklist.item_0 == true"'
    )
    one_more = repeated.replace(
        'rule = "checklist.item_0 == true"', 'rule = "checklist.extra == true"'
    )

    assert problems_of_or_none(repeated) is None
    (problem,) = problems_of(one_more)
    assert f":{line_of(one_more, 'checklist.extra')}: stages[1].entry_criteria" in (
        problem
    )


def test_the_same_finder_reads_items_for_the_file_and_the_deal_page():
    rule = "checklist.nda && checklist['price ok'] && checklist[\"nda\"]"

    assert items_in_rule(rule) == ["nda", "price ok"]


def problems_of_or_none(text: str) -> list[str] | None:
    spec, problems = check_pipeline(text, "p.toml")
    return [str(problem) for problem in problems] or None


# --- the commands ----------------------------------------------------------------


@pytest.fixture
def long_key_file(tmp_path):
    path = tmp_path / "long.toml"
    path.write_text(_with_rule(f"'checklist.{LONG_KEY} == true'"), encoding="utf-8")
    return path


def test_validate_refuses_the_file_naming_file_line_and_key(
    db, capsys, long_key_file, alice
):
    status = main(["pipeline", "validate", str(long_key_file)])

    err = capsys.readouterr().err
    line = line_of(long_key_file.read_text(), LONG_KEY)
    assert status == 1
    assert err.startswith(
        f"{long_key_file}:{line}: stages[0].exit_criteria[0].rule: checklist key "
        f"'{'k' * 39}…' is 101 characters long"
    )


def test_apply_refuses_the_file_and_writes_nothing(db, capsys, long_key_file, alice):
    status = main(["pipeline", "apply", str(long_key_file)])

    assert status == 1
    assert "checklist key" in capsys.readouterr().err
    assert not Pipeline.objects.exists()


def test_every_item_of_a_pipeline_the_file_allows_saves_through_the_deal_form(
    db, alice
):
    spec = parse_pipeline(
        _many_items(MOST_CHECKLIST_ITEMS, first="k" * CHECKLIST_KEY_LIMIT)
    )
    apply_pipeline(spec)
    pipeline = Pipeline.objects.get(key=spec.key)
    deal = make_deal(pipeline, "inquiry", owner=alice)
    assert len(checklist_items(pipeline)) == MOST_CHECKLIST_ITEMS

    edit = read_edit(deal, alice, _posted(deal))

    assert not [f.error for f in edit.fields if f.error]
    update_deal(deal.pk, edit.changes, by=alice, expected_version=deal.version)
    deal.refresh_from_db()
    assert len(deal.checklist) == MOST_CHECKLIST_ITEMS


def _posted(deal: Deal) -> QueryDict:
    posted = QueryDict(mutable=True)
    posted["title"] = deal.title
    return posted
