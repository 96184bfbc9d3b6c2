import datetime as dt

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    stage = pipeline.stages.get(key="inquiry")
    stage.exit_criteria = {
        "mode": "all",
        "items": [{"label": "Budget confirmed", "rule": "checklist.budget == true"}],
    }
    stage.save()
    return Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Laptop fleet",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


def test_a_refused_move_from_the_cli_names_the_unmet_criterion(deal, capsys):
    assert main(["deal", "move", str(deal.pk), "discovery", "--as", "alice"]) == 2
    assert "Budget confirmed" in capsys.readouterr().err
    deal.refresh_from_db()
    assert deal.stage.key == "inquiry"


def test_lost_from_the_cli_needs_a_reason(deal, capsys):
    assert main(["deal", "move", str(deal.pk), "lost", "--as", "alice"]) == 2
    assert "loss reason" in capsys.readouterr().err
    args = ["deal", "move", str(deal.pk), "lost", "--as", "alice", "--reason", "price"]
    assert main(args) == 0
    assert "now lost" in capsys.readouterr().out


def test_a_manager_overrides_from_the_cli_and_history_shows_it(
    deal, max_manager, capsys
):
    args = ["deal", "move", str(deal.pk), "discovery", "--as", "max"]
    assert main([*args, "--override", "Buyer confirmed budget by phone"]) == 0
    assert main(["deal", "show", str(deal.pk)]) == 0
    assert "override: Buyer confirmed budget by phone" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("who", "to", "extra", "named"),
    [
        ("alice", "won", ["--reason", "price"], "--reason"),
        ("alice", "discovery", ["--note", "went quiet"], "--note"),
        ("max", "lost", ["--reason", "price", "--override", "said so"], "--override"),
        ("alice", "discovery", ["--override", "budget by phone"], "--override"),
    ],
)
def test_an_option_the_move_would_not_use_is_refused_naming_it_as_typed(
    deal, max_manager, capsys, who, to, extra, named
):
    args = ["deal", "move", str(deal.pk), to, "--as", who, *extra]

    assert main(args) == 2

    err = capsys.readouterr().err
    assert f"{named}:" in err
    for field in ("loss_reason", "loss_note", "override_reason"):
        assert field not in err
    deal.refresh_from_db()
    assert (deal.status, deal.stage.key, deal.version) == ("open", "inquiry", 1)


def test_an_override_of_a_move_that_meets_its_criteria_is_refused_naming_it(
    deal, max_manager, capsys
):
    deal.checklist = {"budget": True}
    deal.save()
    args = ["deal", "move", str(deal.pk), "discovery", "--as", "max"]

    assert main([*args, "--override", "just in case"]) == 2

    err = capsys.readouterr().err
    assert "--override: deal" in err and "meets what this move needs" in err
    assert main(args) == 0


def test_show_prints_history_in_the_pipelines_zone_with_the_zone_marked(deal, capsys):
    deal.stage.exit_criteria = {}
    deal.stage.save()
    # Half past midnight in Berlin (the pipeline's zone) in summer, then in
    # winter: the day before in UTC both times.
    moves = [
        ("discovery", dt.datetime(2026, 6, 1, 22, 30, tzinfo=dt.UTC)),
        ("proposal", dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC)),
    ]
    for to, at in moves:
        with timesource.frozen_at(at):
            assert main(["deal", "move", str(deal.pk), to, "--as", "alice"]) == 0
    capsys.readouterr()

    assert main(["deal", "show", str(deal.pk)]) == 0

    out = capsys.readouterr().out
    assert "  history, times in Europe/Berlin:" in out
    assert "  2026-06-02 00:30 CEST inquiry -> discovery (open)" in out
    assert "  2026-10-26 00:30 CET discovery -> proposal (open)" in out


def test_a_move_prints_its_outcome_and_no_info_log_lines(deal, monkeypatch, capsys):
    monkeypatch.delenv("DEALGATE_LOG_LEVEL", raising=False)
    deal.stage.exit_criteria = {}
    deal.stage.save()

    assert main(["deal", "move", str(deal.pk), "discovery", "--as", "alice"]) == 0

    out, err = capsys.readouterr()
    assert "now Discovery call booked" in out
    assert err == ""


@pytest.mark.parametrize(
    ("before", "after", "env"),
    [
        (["--verbose"], [], ""),
        (["-v"], [], ""),
        ([], ["--verbose"], ""),
        ([], ["-v"], ""),
        ([], [], "INFO"),
    ],
)
def test_verbose_or_dealgate_log_level_logs_what_happened_to_the_deal(
    deal, monkeypatch, capsys, before, after, env, django_capture_on_commit_callbacks
):
    deal.stage.exit_criteria = {}
    deal.stage.save()
    monkeypatch.setenv("DEALGATE_LOG_LEVEL", env)
    args = ["deal", "move", str(deal.pk), "discovery", "--as", "alice"]

    # A move is logged as it commits; the test's transaction never does.
    with django_capture_on_commit_callbacks(execute=True):
        assert main([*before, *args, *after]) == 0

    expected = (
        f"INFO dealgate.deals: deal {deal.pk} moved from inquiry to discovery by alice"
    )
    assert expected in capsys.readouterr().err


def test_a_stale_version_from_the_cli_is_a_conflict(deal, capsys):
    args = ["deal", "move", str(deal.pk), "won", "--as", "alice", "--version", "7"]
    assert main(args) == 2
    assert "changed since you loaded it" in capsys.readouterr().err


def test_a_database_that_cannot_be_used_is_one_line_naming_it_not_a_traceback(
    monkeypatch, capsys
):
    from django.db import OperationalError

    from dealgate import cli

    def refuse(args):
        raise OperationalError(
            'connection failed: FATAL:  database "dealgate_gone" does not exist'
        )

    parser = cli.build_parser()
    args = parser.parse_args(["migrate"])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(args, "func", refuse, raising=False)
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dealgate: database ")
    assert err.count("\n") == 0
    assert 'database "dealgate_gone" does not exist' in err


def _run_failing(monkeypatch, failure):
    from dealgate import cli

    def fail(args):
        raise failure

    parser = cli.build_parser()
    args = parser.parse_args(["migrate"])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(args, "func", fail, raising=False)
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    return cli.main(["migrate"])


@pytest.mark.parametrize(
    "message",
    [
        "no such table: deals_deal",
        "no such column: deals_deal.done_at",
        "column deals_deal.done_at does not exist\nLINE 1: SELECT done_at\n ^",
        'relation "deals_deal" does not exist\nLINE 1: SELECT * FROM "deals_deal"\n ^',
    ],
)
def test_a_database_not_set_up_says_to_run_migrate(monkeypatch, capsys, message):
    from django.db import OperationalError, ProgrammingError

    kind = OperationalError if message.startswith("no such") else ProgrammingError

    assert _run_failing(monkeypatch, kind(message)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert (
        "deals_deal" in err
        and "set it up or upgrade it first with `dealgate migrate`" in err
    )


def test_a_file_the_user_named_that_cannot_be_written_is_one_line(monkeypatch, capsys):
    failure = FileNotFoundError(2, "No such file or directory", "/nonexistent/x.toml")

    assert _run_failing(monkeypatch, failure) == 2
    assert capsys.readouterr().err.strip() == (
        "dealgate: /nonexistent/x.toml: No such file or directory"
    )


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    assert _run_failing(monkeypatch, BrokenPipeError()) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kind", "message", "first"),
    [
        (
            "OperationalError",
            "deadlock detected\nDETAIL:  Process 1 waits for ShareLock on "
            "transaction 2\nCONTEXT:  while updating tuple (1,2) in relation "
            '"deals_deal"',
            "deadlock detected",
        ),
        (
            "IntegrityError",
            'duplicate key value violates unique constraint "deals_organization_'
            'name_key"\nDETAIL:  Key (name)=(Cancity Newco) already exists.',
            'duplicate key value violates unique constraint "deals_organization_'
            'name_key"',
        ),
    ],
)
def test_a_clash_with_another_writer_is_one_line_saying_to_run_it_again(
    monkeypatch, capsys, kind, message, first
):
    from django import db

    assert _run_failing(monkeypatch, getattr(db, kind)(message)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f": {first}; another command changed the same rows" in err
    assert err.endswith("nothing of this one was committed: run it again")


def test_an_as_of_that_is_no_date_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--as-of", "2024-02-30", "report"])

    assert stopped.value.code == 2
    assert "--as-of: as-of must be a date (2017-12-31)" in capsys.readouterr().err


def test_a_ctrl_c_while_the_command_starts_is_one_line(monkeypatch, capsys):
    from dealgate import cli

    def interrupted(args):
        raise KeyboardInterrupt  # while Django loads

    monkeypatch.setattr(cli, "setup_django", interrupted)
    assert main(["deal", "show", "1"]) == 130
    assert capsys.readouterr().err == (
        "dealgate: interrupted; work not yet committed was rolled back\n"
    )
