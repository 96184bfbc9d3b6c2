"""`import_deals` and `dealgate import deals` on small hand-made files."""

import datetime as dt
import logging
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import NOT_PROVIDED

from dealgate.cli import main
from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports import bulk, services
from dealgate.imports.mappings import MappingError, get_mapping
from dealgate.imports.services import import_deals
from tests.conftest import SHARED
from tests.importing import DATA, make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

GENERIC = """
source = "crm"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
value = "Amount"
stage_entered_at = "Entered"
close_date = "Closed"
[stages]
Open = "prospecting"
Talking = "engaging"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
loss_reason_line = 'loss_reason = "not-recorded"\n'


@pytest.fixture
def sales(db):
    return make_import_pipeline()


@pytest.fixture
def generic(tmp_path):
    return write_mapping(tmp_path, loss_reason_line + GENERIC)


def generic_file(tmp_path, *rows: str) -> Path:
    return write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered,Closed\n" + "".join(rows))


GOOD_ROWS = (
    "D1,Orbit migration,Won,12000,2026-03-02,2026-04-14\n",
    "D2,Helix audit,Talking,,2026-03-10,\n",
    "D3,Quasar support,Open,3000,,\n",
)


# -- the shared hand-checked cases -----------------------------------------


@pytest.mark.parametrize("name", ["bom_excel", "blank_dates", "quoted_newlines"])
def test_the_case_copies_match_the_shared_cases(name):
    shared = SHARED / "cases" / "import" / f"{name}.csv"
    if not shared.exists():
        pytest.skip(f"{shared} is not present")
    assert (DATA / f"{name}.csv").read_bytes() == shared.read_bytes()


def test_a_spreadsheet_export_with_a_byte_order_mark_and_crlf(sales):
    report = import_deals(
        DATA / "bom_excel.csv", DATA / "bom_excel.toml", pipeline=sales
    )
    assert (report.deals_created, report.bad_row_count) == (2, 0)
    deals = Deal.objects.order_by("pk")
    assert [(d.title, d.value, d.expected_close_date) for d in deals] == [
        ("Northwind hosting renewal", Decimal("7200"), dt.date(2026, 5, 29)),
        ("Fabrikam backup pilot", Decimal("1850"), dt.date(2026, 6, 12)),
    ]
    assert {d.status for d in deals} == {"open"}
    assert {d.stage.key for d in deals} == {"prospecting"}


def test_blank_close_dates_mean_none_and_no_placeholder_date_appears(sales):
    report = import_deals(
        DATA / "blank_dates.csv", DATA / "blank_dates.toml", pipeline=sales
    )
    assert report.deals_created == 3
    orbit, helix, quasar = Deal.objects.order_by("pk")
    assert (orbit.status, orbit.closed_at) == (
        "won",
        dt.datetime(2026, 4, 14, tzinfo=dt.UTC),
    )
    assert [helix.status, helix.closed_at, helix.expected_close_date] == [
        "open",
        None,
        None,
    ]
    assert [quasar.status, quasar.closed_at, quasar.expected_close_date] == [
        "open",
        None,
        None,
    ]
    assert helix.value is None
    instants = [
        value
        for deal in (orbit, helix, quasar)
        for value in (deal.created_at, deal.stage_entered_at, deal.closed_at)
    ] + list(StageEvent.objects.values_list("at", flat=True))
    assert all(value is None or value.year == 2026 for value in instants)


def test_quoted_notes_keep_their_line_breaks_and_quotes(sales):
    import_deals(
        DATA / "quoted_newlines.csv", DATA / "quoted_newlines.toml", pipeline=sales
    )
    terra, vega = Deal.objects.order_by("pk")
    assert terra.notes.count("\n") == 2
    assert terra.notes.startswith("Ring the CFO first\n")
    assert vega.notes == 'Buyer wrote "go ahead" on Monday'


# -- all or nothing, skip-bad, dry run --------------------------------------


def test_one_bad_row_rolls_back_everything_and_is_reported_by_line(
    sales, tmp_path, generic
):
    path = generic_file(
        tmp_path, *GOOD_ROWS, "D4,Vega licence,Won,950,2026-03-01,2026-13-01\n"
    )
    report = import_deals(path, generic, pipeline=sales)
    assert not report.committed
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Closed: '2026-13-01' is not a date in YYYY-MM-DD"
    ]
    assert Deal.objects.count() == 0
    assert StageEvent.objects.count() == 0
    assert "nothing was imported" in report.lines()[-1]


def test_bad_row_lines_count_quoted_line_breaks(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\nvalue = "Amount"\nnotes = "Notes"\n'
    )
    path = write_csv(
        tmp_path,
        'Deal,Amount,Notes\nA,1,"two\nlines"\nB,x,ok\nC,3,"a\nb\nc"\nD,$4,ok\n',
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [
        (4, "Amount"),
        (8, "Amount"),
    ]


def test_skip_bad_imports_the_good_rows_and_lists_the_bad(sales, tmp_path, generic):
    path = generic_file(
        tmp_path,
        *GOOD_ROWS,
        "D4,Vega licence,Closed,950,2026-03-01,2026-04-01\n",
        "D5,Lyra renewal,Won,$950,2026-03-01,2026-04-01\n",
    )
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.committed
    assert report.deals_created == 3
    assert Deal.objects.count() == 3
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Stage: 'Closed' is not one of Open, Talking, Won, Lost, "
        "prospecting, engaging",
        "line 6: Amount: '$950' is not a plain amount: leave out the currency",
    ]
    assert report.lines()[-1] == "imported; the bad rows listed were skipped"


def test_a_dry_run_checks_everything_and_writes_nothing(sales, tmp_path, generic):
    path = generic_file(tmp_path, *GOOD_ROWS)
    report = import_deals(path, generic, pipeline=sales, dry_run=True)
    assert (report.deals_created, report.events_created) == (3, 3)
    assert not report.committed
    assert Deal.objects.count() == 0
    assert StageEvent.objects.count() == 0
    assert report.lines()[-1] == "dry run: nothing was written"


def test_a_bad_row_in_a_dry_run_is_reported_too(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Won,1,2026-03-02,\n")
    report = import_deals(path, generic, pipeline=sales, dry_run=True)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Closed: is empty, but a won deal needs one"
    ]


# -- idempotence and repeated ids -------------------------------------------


def test_importing_the_same_file_twice_adds_nothing(sales, tmp_path, generic):
    path = generic_file(tmp_path, *GOOD_ROWS)
    first = import_deals(path, generic, pipeline=sales)
    second = import_deals(path, generic, pipeline=sales)
    assert (first.deals_created, first.already_present) == (3, 0)
    assert (second.deals_created, second.already_present) == (0, 3)
    assert Deal.objects.count() == 3
    assert StageEvent.objects.count() == 3


def test_an_id_repeated_in_the_file_is_a_bad_row_naming_the_first(
    sales, tmp_path, generic
):
    path = generic_file(tmp_path, *GOOD_ROWS, "D2,Helix again,Open,,,\n")
    report = import_deals(path, generic, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D2' is already on line 3"
    ]


def test_an_id_repeated_across_batches_is_still_caught(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    path = generic_file(tmp_path, *GOOD_ROWS, "D1,Orbit again,Open,,,\n")
    report = import_deals(path, generic, pipeline=sales, all_or_nothing=False)
    assert report.deals_created == 3
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'D1' appears earlier in the file"
    ]


def test_batches_write_the_same_deals_as_one_batch(
    sales, tmp_path, generic, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    report = import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    assert report.deals_created == 3
    assert sorted(Deal.objects.values_list("external_id", flat=True)) == [
        "D1",
        "D2",
        "D3",
    ]


# -- history ----------------------------------------------------------------


def test_a_won_deal_keeps_the_files_dates_in_its_history(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    won = Deal.objects.get(external_id="D1")
    engaging = sales.stages.get(key="engaging")
    entered = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    closed = dt.datetime(2026, 4, 14, tzinfo=dt.UTC)
    assert (won.stage, won.created_at, won.stage_entered_at, won.closed_at) == (
        engaging,
        entered,
        entered,
        closed,
    )
    events = [
        (
            e.from_stage_id,
            e.to_stage_id,
            e.from_status,
            e.to_status,
            e.at,
            e.from_entered_at,
            e.source,
        )
        for e in won.events.all()
    ]
    assert events == [
        (None, engaging.pk, "", "open", entered, None, "import"),
        (engaging.pk, engaging.pk, "open", "won", closed, entered, "import"),
    ]


def test_closing_events_carry_business_minutes_reason_and_responsible(
    sales, tmp_path, generic, alice
):
    mapping = write_mapping(
        tmp_path,
        loss_reason_line + GENERIC.replace("[columns]\n", '[columns]\nowner = "Rep"\n'),
    )
    path = write_csv(
        tmp_path,
        "Id,Deal,Stage,Amount,Entered,Closed,Rep\n"
        # Monday 2 March to Friday 6 March 2026: four working days of 8 hours.
        "D1,Orbit,Lost,,2026-03-02,2026-03-06,alice\n",
    )
    import_deals(path, mapping, pipeline=sales)
    deal = Deal.objects.get()
    assert deal.responsible == alice
    entered, lost = deal.events.all()
    assert (entered.responsible, entered.from_business_minutes) == (alice, None)
    assert (lost.loss_reason, lost.responsible) == ("not-recorded", alice)
    assert lost.from_business_minutes == 4 * 8 * 60


def test_team_owned_stages_route_open_deals_to_the_least_loaded_member(
    sales, tmp_path, generic, team, alice, bob
):
    sales.stages.filter(key="prospecting").update(owner_kind="team", owner_team=team)
    path = generic_file(tmp_path, *(f"D{n},Deal {n},Open,,,\n" for n in range(1, 5)))
    import_deals(path, generic, pipeline=sales)
    loads = Counter(Deal.objects.values_list("responsible__username", flat=True))
    assert loads == {"alice": 2, "bob": 2}


def test_a_retired_stage_takes_no_imported_deals(sales, tmp_path, generic):
    sales.stages.filter(key="engaging").update(retired_at=dt.datetime.now(dt.UTC))
    with pytest.raises(MappingError, match="has no stage 'engaging'"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)


def test_a_pipeline_calendar_without_working_time_is_refused(tmp_path, generic, db):
    pipeline = make_import_pipeline("broken")
    pipeline.calendar = {"timezone": "UTC"}
    pipeline.save()
    with pytest.raises(ValidationError, match="pipeline broken: .*no working time"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=pipeline)


def test_a_deal_with_no_dates_gets_no_invented_history(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    quasar = Deal.objects.get(external_id="D3")
    assert (quasar.created_at, quasar.stage_entered_at) == (None, None)
    assert not quasar.events.exists()


def test_dates_become_midnight_in_the_pipelines_time_zone(tmp_path, generic, db):
    berlin = make_import_pipeline("berlin", timezone="Europe/Berlin")
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=berlin)
    won = Deal.objects.get(external_id="D1")
    assert won.stage_entered_at == dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)
    assert won.closed_at == dt.datetime(2026, 4, 13, 22, tzinfo=dt.UTC)


def test_a_close_date_before_the_stage_entry_is_a_bad_row(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Won,1,2026-04-02,2026-03-01\n")
    report = import_deals(path, generic, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Closed: '2026-03-01' is before Entered '2026-04-02'"
    ]


# -- statuses, loss reasons, names ------------------------------------------


def test_a_generic_file_with_status_and_stage_key_columns(sales, tmp_path):
    mapping = write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\nstatus = "Status"\nstage = "Stage"\n'
        'close_date = "Closed"\nloss_reason = "Why"\n',
    )
    path = write_csv(
        tmp_path,
        "Deal,Status,Stage,Closed,Why\n"
        "A,open,engaging,,\n"
        "B,WON,engaging,2026-05-01,\n"
        "C,lost,prospecting,2026-05-02,price\n",
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert report.bad_row_count == 0
    found = Deal.objects.order_by("pk").values_list(
        "title", "status", "stage__key", "loss_reason"
    )
    assert list(found) == [
        ("A", "open", "engaging", ""),
        ("B", "won", "engaging", ""),
        ("C", "lost", "prospecting", "price"),
    ]


def test_a_lost_deal_without_a_reason_is_refused_unless_the_mapping_gives_one(
    sales, tmp_path
):
    mapping = write_mapping(tmp_path, GENERIC)
    path = generic_file(tmp_path, "D1,Orbit,Lost,0,2026-03-02,2026-04-14\n")
    report = import_deals(path, mapping, pipeline=sales)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: loss_reason: is empty, but a lost deal needs one"
    ]


def test_a_default_loss_reason_is_applied_and_reported(sales, tmp_path, generic):
    path = generic_file(tmp_path, "D1,Orbit,Lost,0,2026-03-02,2026-04-14\n")
    report = import_deals(path, generic, pipeline=sales)
    assert Deal.objects.get().loss_reason == "not-recorded"
    assert (
        report.warnings["lost deal without a reason, recorded as 'not-recorded'"] == 1
    )


def test_organizations_are_created_once_and_spelling_variants_share_one(
    sales, tmp_path
):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\norganization = "Company"\n'
    )
    Organization.objects.create(name="Acme Corporation")
    path = write_csv(
        tmp_path,
        "Deal,Company\nA,Acme Corporation\nB,acme corporation\n"
        "C,Initech\nD,INITECH \nE,\n",
    )
    report = import_deals(path, mapping, pipeline=sales)
    assert sorted(Organization.objects.values_list("name", flat=True)) == [
        "Acme Corporation",
        "Initech",
    ]
    assert dict(Deal.objects.values_list("title", "organization__name")) == {
        "A": "Acme Corporation",
        "B": "Acme Corporation",
        "C": "Initech",
        "D": "Initech",
        "E": None,
    }
    assert report.created["organizations"] == 1
    assert report.warnings == {
        "organization 'acme corporation' matched 'Acme Corporation' by spelling": 1,
        "organization 'INITECH' matched 'Initech' by spelling": 1,
        "Company empty, deal has no organization": 1,
        "no dates in the file; creation and stage entry unknown": 5,
        "no external_id column; importing the file again would create these "
        "deals again": 5,
    }


def test_an_owner_is_found_by_username_or_full_name_and_an_unknown_one_is_bad(
    sales, tmp_path, alice, bob
):
    mapping = write_mapping(tmp_path, '[columns]\ntitle = "Deal"\nowner = "Rep"\n')
    path = write_csv(tmp_path, "Deal,Rep\nA,alice\nB,Bob Rep\nC,Carol Nobody\n")
    report = import_deals(path, mapping, pipeline=sales, all_or_nothing=False)
    assert dict(Deal.objects.values_list("title", "owner__username")) == {
        "A": "alice",
        "B": "bob",
    }
    assert [str(bad) for bad in report.bad_rows] == [
        "line 4: Rep: 'Carol Nobody' matches no owner in the database"
    ]


def test_columns_the_mapping_does_not_read_are_reported(sales, tmp_path):
    mapping = write_mapping(tmp_path, '[columns]\ntitle = "Deal"\n')
    path = write_csv(tmp_path, "Deal,Colour\nA,blue\nB,\nC,red\n")
    report = import_deals(path, mapping, pipeline=sales)
    assert (
        report.warnings["column 'Colour' is not in the mapping; value not imported"]
        == 2
    )


def test_custom_fields_currency_and_grouped_amounts(sales, tmp_path):
    mapping = write_mapping(
        tmp_path,
        'thousands_separator = ","\n'
        '[columns]\ntitle = "Deal"\ncurrency = "Cur"\nvalue = "Amount"\n'
        '[custom]\nindustry = "Industry"\n',
    )
    path = write_csv(
        tmp_path, 'Deal,Cur,Amount,Industry\nA,eur,"1,200.50",Retail\nB,,7,\n'
    )
    import_deals(path, mapping, pipeline=sales)
    a, b = Deal.objects.order_by("pk")
    assert (a.currency, a.value, a.custom) == (
        "EUR",
        Decimal("1200.50"),
        {"industry": "Retail"},
    )
    assert (b.currency, b.value, b.custom) == ("USD", Decimal("7"), {})


# -- whole-file problems ----------------------------------------------------


def test_a_column_the_mapping_needs_but_the_file_lacks_is_named(
    sales, tmp_path, generic
):
    path = write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered\nD1,A,Open,1,\n")
    with pytest.raises(ValidationError, match="no column 'Closed'"):
        import_deals(path, generic, pipeline=sales)
    assert Deal.objects.count() == 0


def test_a_mapping_naming_a_stage_the_pipeline_lacks_is_refused(sales, tmp_path):
    mapping = write_mapping(
        tmp_path, '[columns]\ntitle = "Deal"\nstage = "S"\n[stages]\nWon = "closing"\n'
    )
    path = write_csv(tmp_path, "Deal,S\nA,Won\n")
    with pytest.raises(MappingError, match="has no stage 'closing'"):
        import_deals(path, mapping, pipeline=sales)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[columns]\nttle = "Deal"\n', "columns.ttle: not a deal field"),
        ('colour = "red"\n[columns]\ntitle = "D"\n', "colour: unknown key"),
        ("[columns]\n", "give a title column"),
        ('title = "{account}"\n', "{account} is not a template field"),
        (
            '[columns]\ntitle = "D"\n[stages]\nX = { status = "done" }\n',
            "must be one of",
        ),
        ("[columns\n", "not valid TOML"),
        ('encoding = "klingon"\n[columns]\ntitle = "D"\n', "not a known text encoding"),
        (
            'decimal_point = ","\nthousands_separator = ","\n[columns]\ntitle = "D"\n',
            "must differ from the decimal point",
        ),
        (
            'default_stage = 3\n[columns]\ntitle = "D"\n',
            "default_stage: must be a string",
        ),
    ],
)
def test_a_mapping_file_with_a_mistake_names_the_key(tmp_path, text, message):
    path = write_mapping(tmp_path, text)
    with pytest.raises(MappingError, match=message.replace("{", r"\{")):
        get_mapping(path)


def test_an_unknown_mapping_name_lists_the_built_in_ones():
    with pytest.raises(MappingError, match="maven-crm"):
        get_mapping("salesforce")


# -- the bulk writer --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "columns"),
    [(Deal, bulk.DEAL_COLUMNS), (StageEvent, (*bulk.EVENT_COLUMNS, "id"))],
)
def test_every_column_the_importer_leaves_out_may_be_left_out(model, columns):
    """A new required field must be added to the importer, not forgotten."""
    left_out = [
        field.column
        for field in model._meta.concrete_fields
        if field.column not in columns
        and not field.null
        and field.db_default is NOT_PROVIDED
    ]
    assert left_out == []
    known = {field.column for field in model._meta.concrete_fields}
    assert set(columns) <= known


def test_ids_never_reuse_a_deleted_deals_id(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    highest = Deal.objects.order_by("-pk").first().pk
    Deal.objects.all().delete()
    path = write_csv(tmp_path, "Id,Deal,Stage,Amount,Entered,Closed\nD9,X,Open,,,\n")
    import_deals(path, generic, pipeline=sales)
    assert Deal.objects.get().pk > highest


def test_imported_deals_read_back_like_deals_saved_by_the_orm(sales, tmp_path, generic):
    import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    imported = Deal.objects.get(external_id="D1")
    saved = Deal.objects.create(
        pipeline=sales,
        stage=imported.stage,
        status="won",
        title="ORM twin",
        value=Decimal("12000"),
        created_at=imported.created_at,
        stage_entered_at=imported.stage_entered_at,
        closed_at=imported.closed_at,
    )
    same_day = Deal.objects.filter(closed_at=imported.closed_at)
    assert set(same_day.values_list("pk", flat=True)) == {imported.pk, saved.pk}
    assert Deal.objects.filter(stage_entered_at__lt=imported.closed_at).count() == 3
    assert imported.value == Decimal("12000.00")
    assert (imported.custom, imported.version, imported.currency) == ({}, 1, "USD")
    assert connection.vendor in ("sqlite", "postgresql")


# -- the command ------------------------------------------------------------


def test_the_command_prints_the_report_and_exits_0(sales, tmp_path, generic, capsys):
    path = generic_file(tmp_path, *GOOD_ROWS)
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    out, err = capsys.readouterr()
    assert status == 0
    assert "deals: 3 created, 0 already present, 0 bad" in out
    assert out.rstrip().endswith("imported")
    assert err.splitlines()[-1].startswith("read 3 rows, ")


def test_the_command_exits_1_when_bad_rows_leave_nothing_imported(
    sales, tmp_path, generic, capsys
):
    path = generic_file(tmp_path, *GOOD_ROWS, "D4,Vega,Won,1,2026-03-01,2026-13-01\n")
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    out, _ = capsys.readouterr()
    assert status == 1
    assert "  line 5: Closed: '2026-13-01' is not a date in YYYY-MM-DD" in out
    assert Deal.objects.count() == 0
    status = main(
        ["import", "deals", str(path), "--mapping", str(generic), "--skip-bad"]
    )
    assert status == 0
    assert Deal.objects.count() == 3


def test_the_command_asks_which_pipeline_when_there_are_several(
    sales, tmp_path, generic, capsys
):
    make_import_pipeline("renewals")
    path = generic_file(tmp_path, *GOOD_ROWS)
    status = main(["import", "deals", str(path), "--mapping", str(generic)])
    assert status == 2
    assert "several pipelines (renewals, sales); say which with --pipeline" in (
        capsys.readouterr().err
    )
    status = main(
        ["import", "deals", str(path), "--mapping", str(generic), "--pipeline", "sales"]
    )
    assert status == 0


def test_one_info_line_logs_the_counts_and_duration(sales, tmp_path, generic, caplog):
    with caplog.at_level(logging.INFO, logger="dealgate.imports"):
        import_deals(generic_file(tmp_path, *GOOD_ROWS), generic, pipeline=sales)
    [record] = [r for r in caplog.records if r.name == "dealgate.imports"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "3 rows read, 3 deals created, 0 already present, 0 bad rows" in message
    assert "committed in" in message
