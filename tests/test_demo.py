"""`dealgate demo`: the date it runs at and records for later commands.

The first test runs it as someone trying it does, in processes of its own; the
others run the command in this one, on the test database, without importing
the data set.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.clocks.models import AsOf
from tests.importing import make_import_pipeline


def test_commands_on_the_demo_database_run_at_its_date_without_as_of(tmp_path: Path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEALGATE_VAR_DIR=str(tmp_path),
    )
    env.pop("DEALGATE_AS_OF", None)

    def dealgate(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dealgate", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    dealgate("demo", "--no-serve")
    dealgate("deal", "move", "8380", "engaging", "--as", "darcel.schlecht")
    # The end of the data set's last day in the demo pipeline's zone (New
    # York), not the day the command ran.
    assert "2017-12-31 23:59 EST prospecting -> engaging" in dealgate(
        "deal", "show", "8380"
    )

    # Asked for another day, the demo runs at it and so do later commands.
    assert "Dealgate demo, as of 2018-02-15:" in dealgate(
        "--as-of", "2018-02-15", "demo", "--no-serve"
    )
    dealgate("deal", "move", "8380", "prospecting", "--as", "darcel.schlecht")
    assert "2018-02-15 23:59 EST engaging -> prospecting" in dealgate(
        "deal", "show", "8380"
    )


@pytest.fixture
def demo(db, monkeypatch):
    """`dealgate demo --no-serve ...` here, with no data set to import, no
    clocks to sweep, and no DEALGATE_AS_OF unless the test sets one (the
    command sets it for its run; conftest puts it back)."""
    from dealgate.clocks import sweep
    from dealgate.commands import setup
    from dealgate.imports import services

    monkeypatch.delenv("DEALGATE_AS_OF", raising=False)
    monkeypatch.setattr(setup, "ensure_database", lambda verbosity=1: None)
    monkeypatch.setattr(services, "import_deals", lambda *args, **kwargs: "imported")
    monkeypatch.setattr(services, "refresh_statistics", lambda report: None)
    monkeypatch.setattr(sweep, "sweep", lambda: sweep.SweepResult())

    def run(*argv: str) -> None:
        assert main([*argv, "--no-serve"]) == 0

    return run


@pytest.mark.parametrize(
    "argv",
    [["--as-of", "2018-02-15", "demo"], ["demo", "--as-of", "2018-02-15"]],
)
def test_the_demo_records_the_date_it_was_asked_to_run_at(demo, capsys, argv):
    demo(*argv)

    assert timesource.recorded_as_of() == "2018-02-15"
    out = capsys.readouterr().out
    assert "Dealgate demo, as of 2018-02-15:" in out
    assert "Every dealgate command on this database runs as of 2018-02-15" in out


def test_the_demo_records_an_instant_it_was_asked_to_run_at_as_given(demo):
    demo("demo", "--as-of", "2018-02-15T09:30:00+01:00")

    assert timesource.recorded_as_of() == "2018-02-15T09:30:00+01:00"


def test_without_as_of_the_demo_records_its_data_sets_last_day(demo):
    timesource.record_as_of("2018-02-15")  # an earlier run's

    demo("demo")

    assert timesource.recorded_as_of() == "2017-12-31"


def test_dealgate_as_of_sets_the_date_the_demo_runs_at_and_records(demo, monkeypatch):
    monkeypatch.setenv("DEALGATE_AS_OF", "2018-03-01")

    demo("demo")

    assert timesource.recorded_as_of() == "2018-03-01"


def test_as_of_wins_over_dealgate_as_of_for_the_demo_too(demo, monkeypatch):
    monkeypatch.setenv("DEALGATE_AS_OF", "2018-03-01")

    demo("demo", "--as-of", "2018-02-15")

    assert timesource.recorded_as_of() == "2018-02-15"


def test_a_demo_asked_for_a_date_beside_a_pipeline_of_its_own_keeps_its_clocks_at_it(
    demo, capsys
):
    make_import_pipeline(key="it-services")

    demo("demo", "--as-of", "2018-02-15")

    # Other commands run at the real time; the sweep keeps the demo's clocks.
    assert timesource.recorded_as_of() == ""
    assert AsOf.objects.get().value == "2018-02-15"
    out = capsys.readouterr().out
    assert "(give --as-of 2018-02-15 for the demo's)" in out
    assert "the clocks the demo started stay at 2018-02-15 and send no notices" in out


def test_a_dealgate_as_of_that_is_no_date_is_refused_naming_it(
    demo, monkeypatch, capsys
):
    monkeypatch.setenv("DEALGATE_AS_OF", "last tuesday")

    assert main(["demo", "--no-serve"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("dealgate: DEALGATE_AS_OF: as-of must be a date")
    assert timesource.recorded_as_of() == ""


EXAMPLE = Path(__file__).resolve().parents[1] / "examples/pipelines/it-services.toml"


def test_a_pipeline_of_its_own_applied_after_the_demo_runs_at_the_real_time(
    demo, demo_people, capsys
):
    demo("demo")
    assert main(["pipeline", "apply", str(EXAMPLE)]) == 0
    # Commands on it run at the real time from now on, before any demo again.
    assert timesource.recorded_as_of() == ""

    demo("demo")

    out = capsys.readouterr().out
    assert (
        "This database holds other pipelines too (it-services), so other dealgate "
        "commands on it run at the real time (give --as-of 2017-12-31 for the "
        "demo's); the clocks the demo started stay at 2017-12-31" in out
    )
    assert timesource.recorded_as_of() == ""


def test_the_demo_loaded_beside_a_pipeline_of_its_own_claims_no_as_of_date(
    demo, capsys
):
    make_import_pipeline(key="it-services")

    demo("demo")

    out = capsys.readouterr().out
    assert "Dealgate demo, loaded as of 2017-12-31; serve it with dealgate" in out
    assert "Dealgate demo, as of" not in out
    assert "other dealgate commands on it run at the real time" in out


def test_the_demo_served_beside_a_pipeline_of_its_own_serves_at_the_real_time(
    demo, monkeypatch, capsys
):
    served = []
    monkeypatch.setattr(
        "dealgate.commands.serve.check_port_free", lambda *args, **kwargs: None
    )
    monkeypatch.setattr(
        "dealgate.commands.serve.serve_with_sweeper",
        lambda host, port: served.append(timesource.now()),
    )
    make_import_pipeline(key="it-services")
    before = dt.datetime.now(dt.UTC)

    assert main(["demo", "--port", "8123"]) == 0

    out = capsys.readouterr().out
    assert "Dealgate demo, loaded as of 2017-12-31: http://127.0.0.1:8123/" in out
    assert "so the board and other dealgate commands on it run at the real time" in out
    assert served[0] >= before


def test_the_demo_leaves_a_login_whose_password_is_the_printed_one_alone(demo):
    from dealgate.accounts.models import User
    from dealgate.demo import loader

    demo("demo")
    hashes = dict(User.objects.values_list("username", "password"))

    demo("demo")

    assert dict(User.objects.values_list("username", "password")) == hashes
    assert set(hashes) == {username for username, _, _ in loader.LOGINS}


def test_the_demo_gives_a_login_with_another_password_the_printed_one(demo):
    from dealgate.accounts.models import User
    from dealgate.demo import loader

    demo("demo")
    owner = User.objects.get(username="owner")
    owner.set_password("changed since")
    owner.save()

    demo("demo")

    owner.refresh_from_db()
    assert owner.check_password(loader.PASSWORD)


@pytest.fixture
def busy_port():
    """A port of ours something listens on: one the system gives, so that
    tests and servers running beside them cannot collide."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_a_demo_asked_to_serve_at_a_busy_port_says_so_before_loading(
    demo, busy_port, monkeypatch, capsys
):
    from dealgate.commands import setup

    set_up = []
    monkeypatch.setattr(setup, "ensure_database", lambda verbosity=1: set_up.append(1))

    assert main(["demo", "--port", str(busy_port)]) == 2

    assert capsys.readouterr().err == (
        f"dealgate: port {busy_port} is in use; run make demo PORT={busy_port + 1}, "
        f"or dealgate demo --port {busy_port + 1}\n"
    )
    assert set_up == []
    assert timesource.recorded_as_of() == ""


def test_serve_at_a_busy_port_says_so_before_starting_the_sweeper(
    db, busy_port, monkeypatch, capsys
):
    started = []
    monkeypatch.setattr(
        "dealgate.clocks.runner.start_background_sweeper",
        lambda interval=None: started.append(interval),
    )

    assert main(["serve", "--port", str(busy_port)]) == 2

    assert capsys.readouterr().err == (
        f"dealgate: port {busy_port} is in use; give another with "
        f"--port {busy_port + 1}\n"
    )
    assert started == []


# -- the demo's pipeline, edited since it was applied ----------------------------


def _edit_the_demo_pipeline() -> None:
    """What a manager does in the builder: rename a stage, change its age limit
    (the builder applies its draft through the same service)."""
    from dataclasses import replace

    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.demo import loader
    from dealgate.pipelines.services import apply_pipeline

    spec = load_pipeline_file(loader.PIPELINE_FILE)
    first, *rest = spec.stages
    edited = replace(first, name="Account interested", age_limit_days=15)
    apply_pipeline(replace(spec, stages=(edited, *rest)))


def _prospecting():
    from dealgate.pipelines.models import Stage

    stage = Stage.objects.get(pipeline__key="maven-crm", key="prospecting")
    return stage.name, stage.age_limit_days


KEPT = (
    "pipeline: 'maven-crm' differs from the demo's file (edited since the demo "
    "applied it: 1 change); kept as edited. To reset it: dealgate demo "
    "--reset-pipeline"
)


def test_a_first_demo_applies_its_pipeline_and_says_what_it_made(demo, capsys):
    demo("demo")

    out = capsys.readouterr().out
    assert "pipeline: create pipeline 'maven-crm'" in out
    assert "kept as edited" not in out
    assert _prospecting() == ("Interest shown", 20)


def test_a_demo_run_again_on_its_unchanged_pipeline_says_nothing_of_it(demo, capsys):
    demo("demo")
    capsys.readouterr()

    demo("demo")

    out = capsys.readouterr().out
    assert "pipeline:" not in out
    assert _prospecting() == ("Interest shown", 20)


def test_a_demo_run_again_keeps_a_managers_edits_and_says_so_in_one_line(demo, capsys):
    demo("demo")
    _edit_the_demo_pipeline()
    capsys.readouterr()

    demo("demo")

    lines = [
        line for line in capsys.readouterr().out.splitlines() if "pipeline" in line
    ]
    assert lines[0] == KEPT
    assert not any(line.startswith("pipeline:") for line in lines[1:])
    assert _prospecting() == ("Account interested", 15)


def test_the_demo_resets_an_edited_pipeline_when_asked(demo, capsys):
    demo("demo")
    _edit_the_demo_pipeline()
    capsys.readouterr()

    demo("demo", "--reset-pipeline")

    out = capsys.readouterr().out
    assert (
        "pipeline: change stage 'prospecting': name \"Account interested\" -> "
        '"Interest shown", age limit 15 -> 20'
    ) in out
    assert "kept as edited" not in out
    assert _prospecting() == ("Interest shown", 20)


def test_a_reset_refused_by_a_stage_holding_deals_says_how_to_reset_with_moves(
    demo, capsys
):
    from dataclasses import replace

    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.demo import loader
    from dealgate.pipelines.services import apply_pipeline
    from tests.web.helpers import make_deal

    demo("demo")
    spec = load_pipeline_file(loader.PIPELINE_FILE)
    added = replace(spec.stages[-1], key="signing", name="Signing")
    apply_pipeline(replace(spec, stages=(*spec.stages, added)))
    from dealgate.pipelines.models import Pipeline

    make_deal(Pipeline.objects.get(key="maven-crm"), "signing")
    capsys.readouterr()

    assert main(["demo", "--no-serve", "--reset-pipeline"]) == 2

    error = capsys.readouterr().err
    assert "removed stage 'signing' still holds deals" in error
    assert (
        f"reset it with dealgate pipeline apply {loader.PIPELINE_FILE} "
        "--move signing=NEW" in error
    )


@pytest.fixture
def demo_with_data(db, monkeypatch, tmp_path):
    """`dealgate demo --no-serve ...` as the `demo` fixture runs it, but
    importing for real a few rows of the data set (three won, two
    prospecting) with its side files. Statistics are not refreshed: on
    PostgreSQL, ANALYZE's row counts outlive the test's transaction and
    would change the plans later tests look at."""
    import shutil

    from dealgate.clocks import sweep
    from dealgate.commands import setup
    from dealgate.demo import loader
    from dealgate.imports import services

    shipped = loader.DEALS_FILE.parent
    for name in ("accounts.csv", "products.csv", "sales_teams.csv"):
        shutil.copy(shipped / name, tmp_path / name)
    lines = loader.DEALS_FILE.read_text(encoding="utf-8").splitlines()
    prospecting = [line for line in lines if ",Prospecting," in line][:2]
    small = tmp_path / loader.DEALS_FILE.name
    small.write_text("\n".join([*lines[:4], *prospecting, ""]), encoding="utf-8")
    monkeypatch.setattr(loader, "DEALS_FILE", small)
    monkeypatch.delenv("DEALGATE_AS_OF", raising=False)
    monkeypatch.setattr(setup, "ensure_database", lambda verbosity=1: None)
    monkeypatch.setattr(services, "refresh_statistics", lambda report: None)
    monkeypatch.setattr(sweep, "sweep", lambda: sweep.SweepResult())

    def run(*argv: str) -> int:
        return main([*argv, "--no-serve"])

    return run


def _remove_prospecting_as_the_builder_does():
    """Drop the demo's first stage, its deals moved on to `engaging`."""
    from dataclasses import replace

    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import apply_pipeline, export_pipeline

    spec = export_pipeline(Pipeline.objects.get(key="maven-crm"))
    kept = tuple(stage for stage in spec.stages if stage.key != "prospecting")
    handoffs = tuple(
        h for h in spec.handoffs if "prospecting" not in (h.from_stage, h.to_stage)
    )
    apply_pipeline(
        replace(spec, stages=kept, handoffs=handoffs),
        moves={"prospecting": "engaging"},
    )


NO_PROSPECTING = (
    "mapping maven-crm: stages.Prospecting: pipeline maven-crm has no stage "
    "'prospecting'; its stages are engaging"
)


def test_a_demo_run_again_without_a_stage_its_data_needs_serves_the_edited_pipeline(
    demo_with_data, capsys
):
    from dealgate.deals.models import Deal

    assert demo_with_data("demo") == 0
    assert Deal.objects.filter(source="maven-crm").count() == 5
    _remove_prospecting_as_the_builder_does()
    capsys.readouterr()

    assert demo_with_data("demo") == 0

    out = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("pipeline: 'maven-crm' differs from the demo's file")
        and line.endswith("kept as edited. To reset it: dealgate demo --reset-pipeline")
        for line in out
    )
    assert (
        "import: skipped; the demo's deals are in 'maven-crm' already, and its "
        f"stages as edited no longer fit the demo's data ({NO_PROSPECTING})"
    ) in out
    assert (
        "Dealgate demo, as of 2017-12-31: loaded; serve it with dealgate serve" in out
    )
    assert Deal.objects.filter(source="maven-crm").count() == 5
    assert not Deal.objects.filter(stage__key="prospecting").exists()


def test_a_demo_on_an_edited_pipeline_without_its_data_stops_saying_how_to_reset(
    demo_with_data, capsys
):
    from dataclasses import replace

    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.deals.models import Deal
    from dealgate.demo import loader
    from dealgate.pipelines.services import apply_pipeline

    spec = load_pipeline_file(loader.PIPELINE_FILE)
    # Both of its handoffs touch `prospecting`.
    apply_pipeline(replace(spec, stages=spec.stages[1:], handoffs=()))

    assert demo_with_data("demo") == 2

    error = capsys.readouterr().err
    assert (
        f"dealgate: {NO_PROSPECTING}. The demo's data needs the demo's pipeline as "
        "its file has it; dealgate demo --reset-pipeline restores it"
    ) in error
    assert not Deal.objects.exists()

    assert demo_with_data("demo", "--reset-pipeline") == 0
    assert Deal.objects.filter(stage__key="prospecting").count() == 2
