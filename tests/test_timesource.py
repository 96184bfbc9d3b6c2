import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction

from dealgate import timesource
from dealgate.cli import main
from dealgate.clocks.models import AsOf
from dealgate.deals.models import Deal
from dealgate.demo.loader import PIPELINE_KEY
from tests.importing import make_import_pipeline


def test_as_of_date_means_the_end_of_that_day_in_utc_with_no_pipeline(settings, db):
    settings.AS_OF = "2017-12-31"
    assert timesource.now() == dt.datetime(2017, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_as_of_date_means_the_end_of_that_day_in_the_pipelines_zone(settings, pipeline):
    settings.AS_OF = "2017-12-31"
    # Berlin is an hour ahead of UTC in winter.
    assert timesource.now() == dt.datetime(2017, 12, 31, 22, 59, 59, tzinfo=dt.UTC)


def test_as_of_date_follows_a_pipeline_whose_zone_changes(settings, pipeline):
    settings.AS_OF = "2017-12-31"
    timesource.now()

    pipeline.calendar = {**pipeline.calendar, "timezone": "America/New_York"}
    pipeline.save()

    assert timesource.now() == dt.datetime(2018, 1, 1, 4, 59, 59, tzinfo=dt.UTC)


def test_as_of_date_of_pipelines_in_different_zones_ends_in_the_servers(
    settings, pipeline
):
    make_import_pipeline(key="it-services")  # no calendar: the server's zone
    settings.AS_OF = "2017-12-31"

    assert timesource.now() == dt.datetime(2017, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_as_of_instant_keeps_its_own_offset_whatever_the_pipelines_zone(
    settings, pipeline
):
    settings.AS_OF = "2017-12-31T23:30:00+00:00"
    assert timesource.now() == dt.datetime(2017, 12, 31, 23, 30, tzinfo=dt.UTC)


def test_frozen_time_wins_over_as_of_and_is_restored(settings, db):
    settings.AS_OF = "2017-12-31"
    pinned = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    with timesource.frozen_at(pinned):
        assert timesource.now() == pinned
    assert timesource.now().year == 2017


def test_as_of_without_offset_is_refused():
    with pytest.raises(ValueError, match="UTC offset"):
        timesource.parse_as_of("2017-12-31T10:00:00")


def test_as_of_that_is_not_a_date_names_the_expected_form():
    with pytest.raises(ValueError, match="2017-12-31"):
        timesource.parse_as_of("last tuesday")


def test_real_time_when_nothing_is_pinned(settings):
    settings.AS_OF = ""
    before = dt.datetime.now(dt.UTC)
    assert timesource.now() >= before


# --- the as-of date a database records (`dealgate demo`) --------------------------

# The end of 31 Dec 2017 in Berlin, the zone of the `pipeline` fixture's calendar.
DEMO_DAY_END = dt.datetime(2017, 12, 31, 22, 59, 59, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice, settings):
    """A deal in the demo's pipeline, the database's only one, as on a demo
    database."""
    settings.AS_OF = ""  # no DEALGATE_AS_OF, as on a machine that set none
    pipeline.key = PIPELINE_KEY
    pipeline.save(update_fields=["key"])
    entered = dt.datetime(2017, 12, 1, 9, tzinfo=dt.UTC)
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Laptop fleet",
        owner=alice,
        created_at=entered,
        stage_entered_at=entered,
    )


def move(deal: Deal) -> dt.datetime:
    """Move `deal` to discovery from the command line; when it was moved."""
    assert main(["deal", "move", str(deal.pk), "discovery", "--as", "alice"]) == 0
    return deal.events.get(to_stage__key="discovery").at


def test_a_command_runs_at_the_as_of_date_its_database_records(deal):
    timesource.record_as_of("2017-12-31")

    assert move(deal) == DEMO_DAY_END


def test_dealgate_as_of_wins_over_the_date_the_database_records(deal, settings):
    timesource.record_as_of("2017-12-31")
    settings.AS_OF = "2018-01-15"

    assert move(deal) == dt.datetime(2018, 1, 15, 22, 59, 59, tzinfo=dt.UTC)


def test_a_database_that_records_no_as_of_date_runs_at_the_real_time(deal):
    before = dt.datetime.now(dt.UTC)

    assert move(deal) >= before


def test_a_recorded_date_no_longer_holds_once_the_database_has_a_pipeline_of_its_own(
    deal,
):
    timesource.record_as_of("2017-12-31")
    make_import_pipeline(key="it-services")
    before = dt.datetime.now(dt.UTC)

    assert timesource.recorded_as_of() == ""
    assert move(deal) >= before


def test_a_command_keeps_the_date_it_read_to_its_end(deal):
    timesource.record_as_of("2017-12-31")
    timesource.use_recorded_as_of()  # as the `dealgate` command does
    assert timesource.now() == DEMO_DAY_END

    make_import_pipeline(key="it-services")  # `pipeline apply` meanwhile

    # Only a server or the sweeper loop asks again (refresh_recorded_as_of).
    assert timesource.now() == DEMO_DAY_END


def test_a_block_run_at_a_date_runs_at_it_and_the_process_keeps_its_own(deal, settings):
    settings.AS_OF = "2018-01-15"

    with timesource.running_at("2017-12-31"):
        assert timesource.now() == DEMO_DAY_END

    assert timesource.now() == dt.datetime(2018, 1, 15, 22, 59, 59, tzinfo=dt.UTC)


def test_a_database_not_upgraded_yet_records_no_date_and_its_work_goes_on(deal):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE clocks_asof")  # put back as the test ends

    with transaction.atomic():
        assert timesource.recorded_as_of() == ""
        # On PostgreSQL the failed read must not have ended the transaction.
        assert Deal.objects.count() == 1


def test_a_recorded_as_of_that_is_no_date_is_refused(db):
    with pytest.raises(ValueError, match="2017-12-31"):
        timesource.record_as_of("last tuesday")


# --- demo databases: made before the date was recorded, or shared ----------------

_DEMO_AS_OF = importlib.import_module("dealgate.clocks.migrations.0007_demo_as_of")


def _demo_deals(key: str = "maven-crm") -> None:
    pipeline = make_import_pipeline(key=key)
    Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.first(),
        title="GTX Pro for Acme",
        source="maven-crm",
        external_id="1C1I7A6R",
    )


def test_upgrading_a_demo_database_made_before_the_date_was_recorded_records_it(db):
    _demo_deals()
    _DEMO_AS_OF.record_for_a_demo_database(django_apps, None)
    assert timesource.recorded_as_of() == "2017-12-31"


def test_upgrading_a_database_with_pipelines_of_its_own_records_no_date(db):
    _demo_deals()
    make_import_pipeline(key="it-services")
    _DEMO_AS_OF.record_for_a_demo_database(django_apps, None)
    assert timesource.recorded_as_of() == ""


def test_the_demo_loaded_into_a_database_with_other_pipelines_records_no_date(
    db, monkeypatch
):
    from dealgate.clocks import sweep
    from dealgate.demo import loader
    from dealgate.imports import services

    make_import_pipeline(key="it-services")
    monkeypatch.setattr(services, "import_deals", lambda *args, **kwargs: "imported")
    monkeypatch.setattr(services, "refresh_statistics", lambda report: None)
    monkeypatch.setattr(sweep, "sweep", lambda: sweep.SweepResult())
    summary = loader.load_demo()
    assert not summary.dated
    assert summary.other_pipelines == ["it-services"]
    assert timesource.recorded_as_of() == ""


def test_the_demo_loaded_again_beside_a_pipeline_of_its_own_keeps_its_clocks_at_it(
    db, monkeypatch, caplog
):
    from dealgate.clocks import sweep
    from dealgate.demo import loader
    from dealgate.imports import services

    monkeypatch.setattr(services, "import_deals", lambda *args, **kwargs: "imported")
    monkeypatch.setattr(services, "refresh_statistics", lambda report: None)
    monkeypatch.setattr(sweep, "sweep", lambda: sweep.SweepResult())
    loader.load_demo()
    assert timesource.recorded_as_of() == "2017-12-31"

    make_import_pipeline(key="it-services")
    loader.load_demo()

    # Commands run at the real time; the sweep keeps the demo's clocks at it.
    assert timesource.recorded_as_of() == ""
    assert AsOf.objects.get().value == "2017-12-31"
    assert (
        "this database also holds pipeline it-services, so it runs at the real "
        "time; the clocks the demo started stay at 2017-12-31" in caplog.text
    )


def test_the_demo_pipeline_file_has_the_key_the_recorded_date_asks_for():
    from dealgate.core.pipeline_file import load_pipeline_file
    from dealgate.demo import loader

    assert load_pipeline_file(loader.PIPELINE_FILE).key == PIPELINE_KEY
