"""One rule for a team's name at every door: tidied when added, unique and
found ignoring case and spacing (the exact spelling first), and refusals
that name the record as it is spelled. Usernames keep Django's rule, but
their refusals name the spelling that is taken too."""

from __future__ import annotations

import pytest

from dealgate.accounts import services
from dealgate.accounts.models import Team, User
from dealgate.accounts.teams import find_team
from dealgate.builder.forms import owner_choices
from dealgate.core.pipeline_file import PipelineFileError, parse_pipeline
from dealgate.errors import NotFound, ValidationError
from dealgate.imports.mappings import MAVEN_DEMO_DIR
from dealgate.imports.services import import_deals
from dealgate.leads import assign
from dealgate.leads.rules import save_rules
from dealgate.pipelines.services import apply_pipeline, get_pipeline
from tests.importing import make_import_pipeline
from tests.test_cli_people import run
from tests.test_pipeline_file import BASE
from tests.test_pipeline_file_rules import with_rules

SECRET = "long-enough-secret\n"


@pytest.fixture
def field_sales(db):
    return Team.objects.create(name="Field Sales")


@pytest.fixture
def rob(db):
    return User.objects.create_user("rob", role="rep")


@pytest.fixture
def boss(db):
    return User.objects.create_user("boss", role="manager")


@pytest.fixture
def twins(db):
    """Two teams from before the rule whose names now count as one."""
    return (
        Team.objects.create(name="Field Sales"),
        Team.objects.create(name="field sales"),
    )


@pytest.mark.parametrize("typed", ["field sales", " Field  Sales ", "FIELD SALES"])
def test_a_team_is_not_added_twice_under_another_case_or_spacing(
    field_sales, monkeypatch, capsys, typed
):
    assert run(monkeypatch, "team", "add", typed) == 2

    assert "there is already a team 'Field Sales'" in capsys.readouterr().err
    assert list(Team.objects.values_list("name", flat=True)) == ["Field Sales"]


def test_a_new_team_name_is_kept_with_its_spacing_tidied(db, monkeypatch, capsys):
    assert run(monkeypatch, "team", "add", "  Inside \u200b  Sales ") == 0

    assert capsys.readouterr().out == "added team Inside Sales\n"
    assert Team.objects.get().name == "Inside Sales"


def test_a_team_name_with_a_line_break_is_refused_not_joined(db):
    with pytest.raises(ValidationError, match="name must not hold control"):
        services.add_team("Field\nSales")

    assert not Team.objects.exists()


def test_the_name_add_refuses_is_the_name_set_finds(
    field_sales, rob, boss, monkeypatch, capsys
):
    assert run(monkeypatch, "user", "set", "rob", "--team", "field sales") == 0
    assert run(monkeypatch, "team", "set", "FIELD  SALES", "--manager", "boss") == 0
    run(monkeypatch, "user", "add", "ann", "--role", "rep", "--team", " field sales",
        "--password-stdin", stdin=SECRET)  # fmt: skip

    out = capsys.readouterr().out
    assert "rob: rep, Field Sales, active" in out
    assert "team Field Sales: manager boss" in out
    assert "added ann (rep in team Field Sales)" in out
    field_sales.refresh_from_db()
    assert field_sales.manager == boss
    assert set(field_sales.members.values_list("username", flat=True)) == {
        "rob",
        "boss",
        "ann",
    }


def test_a_team_no_spelling_finds_is_still_not_found(field_sales, rob, capsys):
    with pytest.raises(NotFound, match="no team 'Field Ops'; add it with: dealgate"):
        services.change_user("rob", team="  Field   Ops ")


def test_two_teams_from_before_are_each_found_as_spelled_and_never_merged(
    twins, rob, monkeypatch, capsys
):
    upper, lower = twins

    assert run(monkeypatch, "user", "set", "rob", "--team", "field sales") == 0
    assert User.objects.get(username="rob").team == lower
    assert run(monkeypatch, "user", "set", "rob", "--team", "Field Sales") == 0
    assert User.objects.get(username="rob").team == upper

    assert run(monkeypatch, "user", "set", "rob", "--team", "FIELD SALES") == 2
    assert (
        "team: 'FIELD SALES' could be any of the teams 'Field Sales', 'field sales'"
        in capsys.readouterr().err
    )
    assert User.objects.get(username="rob").team == upper
    assert Team.objects.count() == 2


def test_a_third_spelling_of_two_colliding_teams_is_not_added(twins):
    with pytest.raises(ValidationError, match="already a team 'Field Sales'"):
        services.add_team("Field sales")

    assert Team.objects.count() == 2


def test_a_taken_username_is_named_as_it_is_spelled(rob, monkeypatch, capsys):
    assert run(monkeypatch, "user", "add", "Rob", "--role", "rep",
               "--password-stdin", stdin=SECRET) == 2  # fmt: skip

    assert "there is already a user 'rob'" in capsys.readouterr().err
    assert list(User.objects.values_list("username", flat=True)) == ["rob"]


def test_a_username_in_another_case_is_not_found_but_the_real_one_is_named(
    rob, monkeypatch, capsys
):
    assert run(monkeypatch, "user", "set", "Rob", "--role", "manager") == 2

    assert (
        "no user 'Rob'; usernames are exact: did you mean 'rob'?"
        in capsys.readouterr().err
    )
    assert User.objects.get(username="rob").role == "rep"


def test_the_admin_refuses_a_team_name_taken_in_another_spelling(admin, team):
    answer = admin.post(
        "/admin/accounts/team/add/", {"name": " central ", "manager": ""}
    )

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert errors["name"] == ["there is already a team 'Central'"]
    assert list(Team.objects.values_list("name", flat=True)) == ["Central"]


def test_the_builder_offers_each_team_once(field_sales):
    with pytest.raises(ValidationError):
        services.add_team(" Field  Sales ")

    teams = [label for _, label in owner_choices() if label.startswith("Team ")]
    assert teams == ["Team Field Sales"]


def _file_naming_central(spelling: str) -> str:
    text = with_rules(BASE).replace(
        'owner = "user:alice"', f'owner = "team:{spelling}"'
    )
    return text.replace('"team:Central"', f'"team:{spelling}"')


def test_a_pipeline_file_names_a_team_in_any_spelling_and_stores_the_real_one(
    olivia, alice, team
):
    apply_pipeline(parse_pipeline(_file_naming_central("central")))

    pipeline = get_pipeline("new-business")
    stage = pipeline.stages.get(key="discovery")
    assert stage.owner_team == team
    handoff = pipeline.handoffs.get(to_stage=stage)
    assert handoff.responsible == "team:Central"
    assert pipeline.settings["routing"][0]["to"] == "team:Central"
    again = apply_pipeline(parse_pipeline(_file_naming_central("CENTRAL")))
    assert again.lines() == ["no changes"]


def test_a_pipeline_file_naming_two_colliding_teams_is_refused_naming_both(
    olivia, alice, twins
):
    with pytest.raises(PipelineFileError) as refused:
        apply_pipeline(parse_pipeline(_file_naming_central("FIELD SALES")))

    text = str(refused.value)
    assert "'FIELD SALES' could be any of the teams 'Field Sales', 'field sales'" in (
        text
    )
    assert "no team" not in text


def test_routing_rules_name_a_team_in_any_spelling_and_route_to_its_people(
    pipeline, olivia, alice, bob, team
):
    rules = [{"name": "all", "to": "team:  CENTRAL", "how": "round-robin"}]

    stored = save_rules(pipeline, rules)

    assert pipeline.settings["routing"][0]["to"] == "team:Central"
    people, _, _ = assign._people(stored[0])
    assert [person.username for person in people] == ["alice", "bob"]


def test_routing_rules_naming_two_colliding_teams_are_refused(pipeline, twins):
    rules = [{"name": "all", "to": "team:FIELD SALES"}]

    with pytest.raises(ValidationError, match=r"routing\[0\]\.to: 'FIELD SALES'"):
        save_rules(pipeline, rules)


def test_find_team_reads_one_row_when_the_spelling_is_exact(
    twins, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert find_team("field sales") == twins[1]


def test_an_import_finds_a_team_already_there_in_another_spelling(db):
    kept = Team.objects.create(name="central  (DUSTIN brinkmann)")
    pipeline = make_import_pipeline(
        "maven",
        timezone="America/New_York",
        loss_reasons=[{"key": "not-recorded", "label": "Not recorded"}],
    )

    report = import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=pipeline)

    assert report.committed
    assert User.objects.get(username="moses.frase").team == kept
    assert not Team.objects.filter(name="Central (Dustin Brinkmann)").exists()


def test_an_import_naming_two_colliding_teams_has_bad_rows_naming_both(db):
    Team.objects.create(name="CENTRAL (Dustin Brinkmann)")
    Team.objects.create(name="central (dustin brinkmann)")
    pipeline = make_import_pipeline(
        "maven",
        timezone="America/New_York",
        loss_reasons=[{"key": "not-recorded", "label": "Not recorded"}],
    )

    report = import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=pipeline)

    assert not report.committed
    bad = [str(row) for row in report.bad_rows if row.file == "sales_teams.csv"]
    assert bad[0] == (
        "sales_teams.csv line 2: regional_office: 'Central (Dustin Brinkmann)' "
        "could be any of the teams 'CENTRAL (Dustin Brinkmann)', "
        "'central (dustin brinkmann)'; give the name as spelled (dealgate team list)"
    )
    assert Team.objects.count() == 2
