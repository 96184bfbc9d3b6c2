"""A routing rule's weights name people of the rule's team: one that names
nobody there is refused, at its line and key, by `pipeline validate` and
`apply` and by the routing rules editor. A weight for a misspelt username
("Alice" for alice, or a typo) or for someone of another team used to be
taken silently, and the person it meant weighed 1."""

import pytest

from dealgate.accounts.models import Team, User
from dealgate.cli import main
from dealgate.core.pipeline_file import PipelineFileError, parse_pipeline
from dealgate.errors import ValidationError
from dealgate.leads.rules import rules_digest, save_rules
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline, plan_pipeline
from tests.test_pipeline_apply import FILE
from tests.web.helpers import text_of

WEIGHTED = """
[[routing]]
name = "Central rotation"
to = "team:Central"
how = "weighted"
weights = { WEIGHTS }
"""


@pytest.fixture
def people(alice, max_manager):
    """alice (a rep) and max (its manager) are team Central, as the file
    names it; rita is in another team."""
    others = Team.objects.create(name="Sales (Mia)")
    User.objects.create_user("rita", role="rep", team=others)
    return alice


def _problems(weights: str) -> list[str]:
    text = FILE + WEIGHTED.replace("WEIGHTS", weights)
    with pytest.raises(PipelineFileError) as caught:
        plan_pipeline(parse_pipeline(text, "sales.toml"))
    assert not Pipeline.objects.exists()
    return [str(problem) for problem in caught.value.problems]


def _line_of(weights: str) -> int:
    text = FILE + WEIGHTED.replace("WEIGHTS", weights)
    return text.splitlines().index(f"weights = {{ {weights} }}") + 1


def test_a_weight_for_a_username_nobody_has_is_an_error_naming_it(db, people):
    problems = _problems("zed = 3")

    assert problems == [
        f"sales.toml:{_line_of('zed = 3')}: routing[0].weights.zed: no user 'zed'; "
        "weights name its people by username: alice, max"
    ]


def test_a_weight_spelt_with_other_capitals_is_refused_naming_the_username(db, people):
    (problem,) = _problems("Alice = 2")

    assert "routing[0].weights.Alice: no user 'Alice'" in problem
    assert "usernames are matched exactly: alice?" in problem


def test_a_weight_for_someone_of_another_team_is_refused_saying_who_is_in_it(
    db, people
):
    (problem,) = _problems("alice = 2, rita = 1")

    assert "routing[0].weights.rita: rita is not in team Central" in problem
    assert problem.endswith("alice, max")


def test_weights_for_the_team_s_people_are_applied(db, people):
    text = FILE + WEIGHTED.replace("WEIGHTS", "alice = 2, max = 0")

    apply_pipeline(parse_pipeline(text, "sales.toml"))

    (rule,) = Pipeline.objects.get(key="sales").settings["routing"]
    assert rule["weights"] == {"alice": 2, "max": 0}


def test_the_routing_rules_editor_refuses_a_weight_naming_nobody_in_the_team(
    db, people, pipeline
):
    rule = {
        "name": "Central rotation",
        "to": "team:central",
        "how": "weighted",
        "weights": {"alice": 2, "raj": 1},
    }

    with pytest.raises(ValidationError) as caught:
        save_rules(pipeline, [rule])

    assert caught.value.field == "routing[0].weights.raj"
    assert "no user 'raj'" in caught.value.detail
    pipeline.refresh_from_db()
    assert "routing" not in (pipeline.settings or {})


def test_the_routing_rules_page_shows_the_refused_weight_and_keeps_the_rules(
    client, people, pipeline, olivia
):
    client.force_login(olivia)
    text = (
        '[[routing]]\nname = "Central rotation"\nto = "team:Central"\n'
        'how = "weighted"\nweights = { Alice = 2 }\n'
    )

    refused = client.post(
        "/leads/routing/",
        {"pipeline": pipeline.key, "rules": text, "seen": rules_digest(pipeline)},
    )

    assert refused.status_code == 422
    assert "routing[0].weights.Alice: no user 'Alice'" in text_of(refused)
    pipeline.refresh_from_db()
    assert "routing" not in (pipeline.settings or {})


def test_pipeline_validate_prints_the_weight_at_its_line_and_exits_1(
    db, people, tmp_path, capsys
):
    path = tmp_path / "sales.toml"
    path.write_text(FILE + WEIGHTED.replace("WEIGHTS", "zed = 3"), encoding="utf-8")

    status = main(["pipeline", "validate", str(path)])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:{_line_of('zed = 3')}: routing[0].weights.zed: no user 'zed'; "
        "weights name its people by username: alice, max"
    ]
