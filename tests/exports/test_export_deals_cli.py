"""`dealgate export deals`: the file's exact content, its filters, the
formula defence, the zone of its times and its refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal, Organization, Person, Product

# Berlin is at +02:00 in June.
T0 = dt.datetime(2026, 6, 1, 7, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 3, 7, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(NOW):
        yield


@pytest.fixture
def deals(pipeline, alice, bob):
    pipeline.custom_fields = [
        {"key": "budget", "label": "Budget", "type": "number"},
        {"key": "seats", "label": "Seats", "type": "number"},
        {"key": "need", "label": "Need", "type": "text"},
        {"key": "signed", "label": "Signed", "type": "bool"},
    ]
    pipeline.save()
    acme = Organization.objects.create(name="Acme GmbH")
    buyer = Person.objects.create(name="Jo Buyer", email="jo@acme.example")
    inquiry = pipeline.stages.get(key="inquiry")
    proposal = pipeline.stages.get(key="proposal")
    first = Deal.objects.create(
        pipeline=pipeline,
        stage=inquiry,
        title="Laptop fleet",
        organization=acme,
        contact=buyer,
        owner=alice,
        value=Decimal("12500.50"),
        currency="EUR",
        custom={
            "budget": 12000.5,
            "seats": 40,
            "need": '=HYPERLINK("x")',
            "signed": True,
        },
        created_at=T0,
        stage_entered_at=T0,
        expected_close_date=dt.date(2026, 7, 31),
    )
    second = Deal.objects.create(
        pipeline=pipeline,
        stage=proposal,
        title="+1 support desk",
        product=Product.objects.create(name="@Desk"),
        owner=bob,
        value=Decimal("-250.00"),
        status="lost",
        loss_reason="price",
        loss_note="@buyer went elsewhere",
        created_at=T0,
        stage_entered_at=T0,
        closed_at=T0 + dt.timedelta(days=1),
    )
    return first, second


def _export(capsys, *args: str) -> str:
    assert main(["export", "deals", *args]) == 0
    return capsys.readouterr().out


def test_the_export_of_two_deals_reads_exactly_so(deals, capsys):
    first, second = deals
    assert _export(capsys).split("\r\n") == [
        "id,title,organization,contact_name,contact_email,product,value,currency,"
        "owner,"
        "pipeline,stage,stage_name,status,loss_reason,loss_note,created_at,"
        "stage_entered_at,closed_at,expected_close_date,budget,seats,need,signed,"
        "business_days_in_stage",
        f"{first.pk},Laptop fleet,Acme GmbH,Jo Buyer,jo@acme.example,,12500.50,EUR,"
        "alice,new-business,inquiry,Inquiry received,open,,,"
        "2026-06-01T09:30:00+02:00,2026-06-01T09:30:00+02:00,,2026-07-31,"
        '12000.5,40,"\'=HYPERLINK(""x"")",yes,2.00',
        f"{second.pk},'+1 support desk,,,,'@Desk,-250.00,USD,bob,new-business,"
        "proposal,"
        "Proposal requested,lost,price,'@buyer went elsewhere,"
        "2026-06-01T09:30:00+02:00,2026-06-01T09:30:00+02:00,"
        "2026-06-02T09:30:00+02:00,,,,,,1.00",
        "",
    ]


def test_times_are_written_in_the_pipelines_zone_with_its_offset(
    deals, pipeline, capsys
):
    pipeline.calendar = {**pipeline.calendar, "timezone": "America/New_York"}
    pipeline.save()
    row = next(csv.DictReader(io.StringIO(_export(capsys))))
    assert row["created_at"] == "2026-06-01T03:30:00-04:00"


def test_a_negative_amount_stays_a_number_and_formula_text_is_inert(deals, capsys):
    rows = list(csv.DictReader(io.StringIO(_export(capsys))))
    assert rows[1]["value"] == "-250.00"
    assert rows[1]["title"] == "'+1 support desk"
    assert rows[0]["need"] == '\'=HYPERLINK("x")'


@pytest.mark.parametrize(
    ("args", "titles"),
    [
        (["--status", "lost"], ["+1 support desk"]),
        (["--status", "open"], ["Laptop fleet"]),
        (["--stage", "proposal"], ["+1 support desk"]),
        (["--owner", "alice"], ["Laptop fleet"]),
        (["--owner", "(none)"], []),
        (["--pipeline", "new-business"], ["Laptop fleet", "+1 support desk"]),
    ],
)
def test_the_filters_choose_the_deals_written(deals, capsys, args, titles):
    rows = list(csv.DictReader(io.StringIO(_export(capsys, *args))))
    assert [row["title"].removeprefix("'") for row in rows] == titles


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--pipeline", "renewals"], "--pipeline: there is no pipeline 'renewals'"),
        (["--stage", "nowhere"], "--stage: pipeline new-business has no stage"),
        (["--owner", "zed"], "--owner: there is no user 'zed'"),
    ],
)
def test_a_filter_that_names_nothing_is_refused_naming_the_option(
    deals, capsys, args, said
):
    assert main(["export", "deals", *args]) == 2
    assert said in capsys.readouterr().err


def test_an_unknown_status_is_refused_naming_the_option(deals, capsys):
    with pytest.raises(SystemExit):
        main(["export", "deals", "--status", "stuck"])
    assert "--status: invalid choice: 'stuck'" in capsys.readouterr().err


def test_the_export_goes_to_a_file_when_named(deals, tmp_path, capsys):
    target = tmp_path / "deals.csv"
    assert main(["export", "deals", str(target)]) == 0
    assert capsys.readouterr().out == f"{target}: 2 deals written\n"
    assert target.read_bytes().startswith(b"id,title,")
    assert [p.name for p in tmp_path.iterdir()] == ["deals.csv"]


def test_an_export_that_fails_leaves_no_file_and_keeps_the_one_there(
    deals, tmp_path, monkeypatch
):
    from dealgate.deals import export

    target = tmp_path / "deals.csv"
    target.write_text("yesterday's export", encoding="utf-8")

    def broken(deal):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(export._Rows, "of", lambda self, deal: broken(deal))
    with pytest.raises(RuntimeError):
        main(["export", "deals", str(target)])
    assert [p.name for p in tmp_path.iterdir()] == ["deals.csv"]
    assert target.read_text(encoding="utf-8") == "yesterday's export"


def test_the_export_costs_the_same_queries_for_many_deals_as_for_few(deals, pipeline):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.deals.export import deal_csv, deal_export

    export = deal_export()
    with CaptureQueriesContext(connection) as few:
        list(deal_csv(export, NOW))
    for n in range(20):
        Deal.objects.create(
            pipeline=pipeline,
            stage=pipeline.stages.get(key="inquiry"),
            title=f"More {n}",
            created_at=T0,
        )
    with CaptureQueriesContext(connection) as many:
        list(deal_csv(export, NOW))
    # One statement reads the rows; PostgreSQL's transaction adds its
    # savepoint inside a test's own.
    selects = [q for q in many.captured_queries if "SELECT" in q["sql"]]
    assert len(selects) == 1
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_command_starts_in_a_process_of_its_own(tmp_path):
    # The parser is built before Django is set up: a command module that
    # imports a model at its top stops every command.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", "export", "deals", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--status {open,won,lost}" in done.stdout


def test_the_commands_statuses_are_the_deals(db):
    from dealgate.commands.export import DEAL_STATUSES

    assert list(DEAL_STATUSES) == Deal.Status.values
