"""A deal and a lead record when they last changed (`updated_at`): every
write stamps it with timesource's now, through one mechanism (the models'
save and their querysets' update), the import's bulk INSERT and COPY with
one instant for every row; the migration backfills stored rows from what
they tell of their changes."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F

from dealgate import timesource
from dealgate.deals.models import Deal, Organization, StageEvent
from dealgate.deals.services import hand_over_responsibility, move_deal, update_deal
from dealgate.imports import bulk
from dealgate.imports.services import import_deals
from dealgate.leads.edits import edit_lead
from dealgate.leads.models import Lead
from dealgate.leads.services import (
    capture_lead,
    convert_lead,
    disqualify_lead,
    merge_lead,
    split_lead,
)
from dealgate.leads.versions import lead_version
from tests.conftest import NOW
from tests.importing import make_import_pipeline, write_csv, write_mapping
from tests.leads.conftest import CENTRAL_RULES, inquiry
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db

LATER = NOW + dt.timedelta(hours=5)


def _stamp_of(model, pk: int) -> dt.datetime:
    return model.objects.values_list("updated_at", flat=True).get(pk=pk)


def test_a_new_deal_is_stamped_with_the_pinned_now_not_the_wall_clock(pipeline, alice):
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice)
    assert _stamp_of(Deal, deal.pk) == NOW


def test_an_update_that_only_bumps_the_version_stamps_the_row(pipeline, alice):
    # The guard for every writer: whichever bumps the version through the ORM
    # (moves, edits, hand-overs, the sweep, a redesign) stamps the row too.
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice)
    with timesource.frozen_at(LATER):
        Deal.objects.filter(pk=deal.pk).update(version=F("version") + 1)
    assert _stamp_of(Deal, deal.pk) == LATER


def test_a_save_of_some_fields_and_a_bulk_update_stamp_the_rows(pipeline, alice):
    with timesource.frozen_at(NOW):
        one = make_deal(pipeline, "inquiry", owner=alice)
        two = make_deal(pipeline, "inquiry", owner=alice)
    with timesource.frozen_at(LATER):
        one.title = "Renamed"
        one.save(update_fields=["title"])
    with timesource.frozen_at(LATER + dt.timedelta(hours=1)):
        two.title = "Renamed too"
        Deal.objects.bulk_update([two], ["title"])
    assert _stamp_of(Deal, one.pk) == LATER
    assert _stamp_of(Deal, two.pk) == LATER + dt.timedelta(hours=1)


def test_a_deletion_that_empties_a_deal_or_lead_field_stamps_the_row(
    pipeline, alice, bob, olivia
):
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice, organization="Acme")
        lead = Lead.objects.create(
            pipeline=pipeline, channel="web", created_at=NOW, owner=bob
        )
    with timesource.frozen_at(LATER):
        Organization.objects.get(name="Acme").delete()
        bob.delete()
    assert _stamp_of(Deal, deal.pk) == LATER
    assert _stamp_of(Lead, lead.pk) == LATER


def test_a_move_an_edit_and_a_hand_over_each_stamp_the_deal(pipeline, alice, bob):
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice)
        Deal.objects.filter(pk=deal.pk).update(responsible=alice)
    with timesource.frozen_at(LATER):
        moved = move_deal(deal.pk, "discovery", by=alice, expected_version=1)
    assert moved.updated_at == LATER == _stamp_of(Deal, deal.pk)

    edited_at = LATER + dt.timedelta(minutes=10)
    with timesource.frozen_at(edited_at):
        update_deal(deal.pk, {"title": "Backup"}, by=alice, expected_version=2)
    assert _stamp_of(Deal, deal.pk) == edited_at

    handed_at = edited_at + dt.timedelta(minutes=10)
    with timesource.frozen_at(handed_at):
        assert hand_over_responsibility(deal.pk, alice, bob, by=None)
    assert _stamp_of(Deal, deal.pk) == handed_at


def test_an_edit_that_changes_nothing_keeps_the_stamp(pipeline, alice):
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice, title="Backup")
    with timesource.frozen_at(LATER):
        update_deal(deal.pk, {"title": "Backup"}, by=alice, expected_version=1)
    assert _stamp_of(Deal, deal.pk) == NOW


def test_an_import_stamps_every_row_with_the_one_instant_it_ran_at(tmp_path):
    sales = make_import_pipeline()
    mapping = write_mapping(
        tmp_path,
        'source = "crm"\nloss_reason = "not-recorded"\n[columns]\n'
        'external_id = "Id"\ntitle = "Deal"\nstage = "Stage"\n'
        'stage_entered_at = "Entered"\nclose_date = "Closed"\n'
        '[stages]\nOpen = "prospecting"\n'
        'Won = { stage = "prospecting", status = "won" }\n',
    )
    path = write_csv(
        tmp_path,
        "Id,Deal,Stage,Entered,Closed\n"
        "D1,Orbit,Won,2026-03-02,2026-04-14\nD2,Helix,Open,2026-03-10,\n"
        "D3,Quasar,Open,,\n",
    )
    with timesource.frozen_at(LATER):
        report = import_deals(path, mapping, pipeline=sales)
    assert report.deals_created == 3
    assert set(Deal.objects.values_list("updated_at", flat=True)) == {LATER}


def test_the_imports_deal_rows_carry_the_stamp_where_the_writer_reads_it():
    # test_import_deals checks that DEAL_COLUMNS names every column.
    assert bulk.DEAL_COLUMNS[bulk.UPDATED] == "updated_at"


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    return pipeline


def test_a_capture_an_edit_and_a_disqualification_each_stamp_the_lead(routed, olivia):
    with timesource.frozen_at(NOW):
        lead = capture_lead(inquiry(1), source="form").lead
    assert lead.updated_at == NOW == _stamp_of(Lead, lead.pk)

    with timesource.frozen_at(LATER):
        lead.refresh_from_db()
        edit_lead(lead.pk, {"name": "Ada"}, by=olivia, version=lead_version(lead))
    assert _stamp_of(Lead, lead.pk) == LATER

    closed_at = LATER + dt.timedelta(hours=1)
    with timesource.frozen_at(closed_at):
        disqualify_lead(lead.pk, "a student project", by=olivia)
    assert _stamp_of(Lead, lead.pk) == closed_at


def test_a_merge_its_split_and_a_conversion_each_stamp_the_leads(routed, olivia):
    with timesource.frozen_at(NOW):
        kept = capture_lead(inquiry(1), source="form").lead
        merged = capture_lead(inquiry(2), source="form").lead

    with timesource.frozen_at(LATER):
        decision = merge_lead(merged.pk, by=olivia, into_lead=kept.pk)
    assert _stamp_of(Lead, merged.pk) == LATER

    split_at = LATER + dt.timedelta(hours=1)
    with timesource.frozen_at(split_at):
        split_lead(decision.pk, by=olivia)
    assert _stamp_of(Lead, merged.pk) == split_at

    converted_at = split_at + dt.timedelta(hours=1)
    with timesource.frozen_at(converted_at):
        convert_lead(kept.pk, by=olivia)
    kept.refresh_from_db()
    assert kept.updated_at == converted_at == kept.deal.updated_at


def _run_backfill(app: str, module: str) -> None:
    migration = __import__(f"dealgate.{app}.migrations.{module}", fromlist=["x"])
    migration.backfill(apps, SimpleNamespace(connection=connection))


def test_the_backfill_takes_a_deals_latest_known_change(pipeline, alice):
    entered = NOW - dt.timedelta(days=4)
    moved = NOW - dt.timedelta(days=2)
    with timesource.frozen_at(NOW):
        deal = make_deal(pipeline, "inquiry", owner=alice, days_in_stage=4)
        undated = make_deal(pipeline, "inquiry", owner=alice, days_in_stage=None)
    StageEvent.objects.create(
        deal=deal, to_stage=deal.stage, to_status="open", at=moved
    )
    with timesource.frozen_at(LATER):
        _run_backfill("deals", "0018_deal_updated_at")
    assert _stamp_of(Deal, deal.pk) == moved > entered
    # Nothing tells when the undated deal changed: the migration's instant.
    assert _stamp_of(Deal, undated.pk) == LATER


def test_the_backfill_takes_a_leads_latest_known_change(routed, olivia):
    with timesource.frozen_at(NOW):
        lead = capture_lead(inquiry(1), source="form").lead
    closed = NOW + dt.timedelta(hours=2)
    Lead.objects.filter(pk=lead.pk).update(closed_at=closed, updated_at=NOW)
    _run_backfill("leads", "0018_lead_updated_at")
    assert _stamp_of(Lead, lead.pk) == closed


def _deal_triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'deals_deal'"
            )
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid = 'deals_deal'::regclass"
            )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_adding_the_column_keeps_the_insights_triggers_on_the_deals_table():
    before = _deal_triggers()
    executor = MigrationExecutor(connection)
    executor.migrate([("deals", "0015_system_activities")])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert before and _deal_triggers() == before
