"""`dealgate pipeline validate|apply|export`, run in-process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file, parse_pipeline
from dealgate.deals.models import Deal
from dealgate.pipelines.models import Pipeline
from tests.conftest import IT_SERVICES, REPO_ROOT

DEMO = REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.toml"
    text = IT_SERVICES.read_text(encoding="utf-8")
    path.write_text(text.replace("age_limit_days = 5", "age_limit_days = -3"))
    return path


@pytest.fixture
def routed_to(demo_people):
    """The people the example's routing rules name, as `make demo` makes them."""


@pytest.fixture
def review_holds_a_deal(db, capsys, routed_to):
    """The IT-services pipeline applied, with a deal in its "review" stage."""
    main(["pipeline", "apply", str(IT_SERVICES)])
    pipeline = Pipeline.objects.get(key="it-services")
    review = pipeline.stages.get(key="review")
    Deal.objects.create(pipeline=pipeline, stage=review, title="Backup for Contoso")
    capsys.readouterr()


def test_validate_reports_ok_with_a_summary_for_each_file(capsys, routed_to):
    status = main(["pipeline", "validate", str(IT_SERVICES), str(DEMO)])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out == [
        f"{IT_SERVICES}: ok (5 stages, 6 handoffs)",
        f"{DEMO}: ok (2 stages, 2 handoffs)",
    ]


def test_validate_prints_each_problem_and_exits_1(capsys, broken, routed_to):
    status = main(["pipeline", "validate", str(broken), str(DEMO)])

    captured = capsys.readouterr()
    assert status == 1
    line = broken.read_text().splitlines().index("age_limit_days = -3") + 1
    assert captured.err.splitlines() == [
        f"{broken}:{line}: stages[1].age_limit_days: must be a whole number of "
        "business days from 1 to 365, got -3"
    ]
    assert captured.out == f"{DEMO}: ok (2 stages, 2 handoffs)\n"


def test_validate_lists_unknown_people_with_the_files_other_problems(
    capsys, broken, db
):
    text = broken.read_text(encoding="utf-8").replace(
        'owner = "deal-owner"\nage_limit_days = 10',
        'owner = "user:nobody"\nage_limit_days = 10',
        1,
    )
    broken.write_text(text, encoding="utf-8")

    status = main(["pipeline", "validate", str(broken)])

    def at(line_text: str, key: str) -> str:
        line = text.splitlines().index(line_text) + 1
        return f"{broken}:{line}: {key}: "

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        at("age_limit_days = -3", "stages[1].age_limit_days")
        + "must be a whole number of business days from 1 to 365, got -3",
        at('owner = "user:nobody"', "stages[2].owner")
        + "no user with username 'nobody'",
        at('to = "team:Central (Dustin Brinkmann)"', "routing[0].to")
        + "no team 'Central (Dustin Brinkmann)'"
        + "; edit [[routing]] to name your own team or person",
        at(
            'to = "user:dustin.brinkmann"  # the team\'s manager catches the rest',
            "routing[1].to",
        )
        + "no active user 'dustin.brinkmann'"
        + "; edit [[routing]] to name your own team or person",
    ]


def test_validate_names_a_deactivated_owner(capsys, tmp_path, olivia):
    olivia.is_active = False
    olivia.save()
    path = tmp_path / "owned.toml"
    path.write_text(
        DEMO.read_text().replace(
            'owner = "deal-owner"  # the', 'owner = "user:olivia" #'
        )
    )

    assert main(["pipeline", "validate", str(path)]) == 1
    assert "stages[0].owner: user 'olivia' is deactivated" in capsys.readouterr().err


def test_validate_without_a_database_checks_the_file_and_says_what_it_did_not(
    tmp_path,
):
    missing = tmp_path / "none" / "dealgate.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{missing}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    done = subprocess.run(
        [sys.executable, "-m", "dealgate", "pipeline", "validate", str(IT_SERVICES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert done.stdout == f"{IT_SERVICES}: ok (5 stages, 6 handoffs)\n"
    assert done.stderr.startswith(
        f"note: users and teams were not checked, nor what apply would refuse: "
        f"there is no database at {missing};"
    )
    assert not missing.exists()


def test_apply_dry_run_shows_the_plan_and_writes_nothing(db, capsys, routed_to):
    status = main(["pipeline", "apply", str(IT_SERVICES), "--dry-run"])

    out = capsys.readouterr().out
    assert status == 0
    assert "(dry run: nothing is applied)" in out
    assert "  create pipeline 'it-services' (IT services: new business)" in out
    assert "  add stage 'discovery' (Discovery call booked)" in out
    assert not Pipeline.objects.exists()


def test_apply_applies_and_a_second_run_has_no_changes(db, capsys, routed_to):
    assert main(["pipeline", "apply", str(IT_SERVICES)]) == 0
    first = capsys.readouterr().out
    assert main(["pipeline", "apply", str(IT_SERVICES)]) == 0
    second = capsys.readouterr().out

    assert "applied" in first
    assert Pipeline.objects.get(key="it-services").stages.count() == 5
    assert second.splitlines()[1:] == ["  no changes"]


def test_apply_of_one_change_counts_it_in_the_singular(db, capsys, routed_to, tmp_path):
    renamed = tmp_path / "renamed.toml"
    renamed.write_text(
        IT_SERVICES.read_text(encoding="utf-8").replace(
            'name = "Contract requested"', 'name = "Contract asked for"'
        ),
        encoding="utf-8",
    )
    assert main(["pipeline", "apply", str(IT_SERVICES)]) == 0
    capsys.readouterr()

    assert main(["pipeline", "apply", str(renamed)]) == 0

    out = capsys.readouterr().out
    assert "applied 1 change to pipeline 'it-services'" in out


def test_apply_refuses_to_drop_a_stage_with_deals_until_told_where(
    capsys, shrunk, review_holds_a_deal
):

    refused = main(["pipeline", "apply", str(shrunk)])
    captured = capsys.readouterr()
    moved = main(["pipeline", "apply", str(shrunk), "--move", "review=proposal"])

    assert refused == 1
    assert "needs --move review=NEW" in captured.out
    assert "nothing applied" in captured.err
    assert moved == 0
    assert Deal.objects.get().stage.key == "proposal"


def test_apply_refuses_the_next_stage_past_unmet_gates_naming_where_deals_may_go(
    capsys, shrunk, review_holds_a_deal
):
    status = main(["pipeline", "apply", str(shrunk), "--move", "review=contract"])

    err = capsys.readouterr().err
    assert status == 2
    assert "1 entry criterion of 'Contract requested' is unmet" in err
    assert err.rstrip().endswith(
        "the deals of 'review' may go to 'inquiry', 'discovery', 'proposal' "
        "without gates (on the command line: --override REASON with --as "
        "USERNAME, or another --move)"
    )
    assert Deal.objects.get().stage.key == "review"


def test_apply_prints_file_problems_and_exits_1(db, capsys, broken):
    status = main(["pipeline", "apply", str(broken)])

    assert status == 1
    assert "stages[1].age_limit_days" in capsys.readouterr().err
    assert not Pipeline.objects.exists()


def test_apply_names_an_unknown_owner_with_its_line(db, capsys, tmp_path):
    path = tmp_path / "owned.toml"
    text = DEMO.read_text().replace(
        'owner = "deal-owner"  # the', 'owner = "user:zed"  #'
    )
    path.write_text(text)

    status = main(["pipeline", "apply", str(path)])

    line = next(i for i, t in enumerate(text.splitlines(), 1) if "user:zed" in t)
    assert status == 1
    assert capsys.readouterr().err == (
        f"{path}:{line}: stages[0].owner: no user with username 'zed'\n"
    )


def test_a_move_without_an_equals_sign_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["pipeline", "apply", str(DEMO), "--move", "review"])

    assert caught.value.code == 2
    assert "expected OLD=NEW" in capsys.readouterr().err


def test_a_stage_moved_to_two_places_is_refused_naming_it(
    capsys, shrunk, review_holds_a_deal
):
    status = main(
        ["pipeline", "apply", str(shrunk),
         "--move", "review=contract", "--move", "review=discovery"]
    )  # fmt: skip

    assert status == 2
    assert capsys.readouterr().err == (
        "dealgate: --move review=contract --move review=discovery: stage 'review' "
        "is given two destinations; give it one\n"
    )
    assert Deal.objects.get().stage.key == "review"


def test_export_writes_the_pipeline_as_a_file_that_parses_back(db, capsys, tmp_path):
    main(["pipeline", "apply", str(DEMO)])
    capsys.readouterr()

    assert main(["pipeline", "export", "maven-crm"]) == 0
    printed = capsys.readouterr().out
    target = tmp_path / "out.toml"
    assert main(["pipeline", "export", "maven-crm", "-o", str(target)]) == 0

    assert parse_pipeline(printed) == load_pipeline_file(DEMO)
    assert target.read_text(encoding="utf-8") == printed
    assert f"to {target}" in capsys.readouterr().out


def test_export_refuses_to_replace_a_file_without_force(db, capsys, tmp_path):
    main(["pipeline", "apply", str(DEMO)])
    target = tmp_path / "maven-crm.toml"
    target.write_text("# edited by hand, not yet applied\n", encoding="utf-8")
    capsys.readouterr()

    status = main(["pipeline", "export", "maven-crm", "-o", str(target)])

    assert status == 2
    assert f"{target} already exists; use --force" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "# edited by hand, not yet applied\n"


def test_export_with_force_replaces_a_file(db, capsys, tmp_path):
    main(["pipeline", "apply", str(DEMO)])
    target = tmp_path / "maven-crm.toml"
    target.write_text("# an older export\n", encoding="utf-8")

    status = main(["pipeline", "export", "maven-crm", "-o", str(target), "--force"])

    assert status == 0
    assert load_pipeline_file(target) == load_pipeline_file(DEMO)


def test_export_of_an_unknown_pipeline_exits_2(db, capsys):
    status = main(["pipeline", "export", "nope"])

    assert status == 2
    assert "dealgate: no pipeline 'nope'" in capsys.readouterr().err


def test_validate_reports_a_left_out_stage_with_deals_as_apply_would_refuse_it(
    capsys, shrunk, review_holds_a_deal
):

    status = main(["pipeline", "validate", str(shrunk)])

    captured = capsys.readouterr()
    line = shrunk.read_text().splitlines().index("[[stages]]") + 1
    assert status == 1
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{shrunk}:{line}: stages: stage 'review' (Proposal reviewed by the buyer) "
        "of pipeline 'it-services' is left out of this file but holds 1 open deal; "
        "apply refuses until told where they go: --move review=NEW "
        "(try it with --dry-run)"
    ]


def test_validate_passes_a_left_out_stage_that_holds_no_deal(
    db, capsys, shrunk, routed_to
):
    main(["pipeline", "apply", str(IT_SERVICES)])
    capsys.readouterr()

    assert main(["pipeline", "validate", str(shrunk)]) == 0
    assert capsys.readouterr().out == f"{shrunk}: ok (4 stages, 6 handoffs)\n"
    assert main(["pipeline", "apply", str(shrunk)]) == 0
