"""The admin at /admin/ as a superuser: a deal's own fields are saved through
the deal service; what moves, history and clocks own is shown, never changed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.deals.services import move_deal, update_deal
from dealgate.insights.models import DealChange
from dealgate.leads.models import Lead, LeadAssignment

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.fixture
def superuser(olivia):
    # As `dealgate user add --role admin` leaves an admin.
    olivia.is_staff = olivia.is_superuser = True
    olivia.save()
    return olivia


@pytest.fixture
def admin(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def deal(pipeline, alice):
    """An open deal in discovery, moved there by its owner: one event, an
    age clock running for alice, version 2."""
    inquiry = pipeline.stages.get(key="inquiry")
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=inquiry,
        title="Backup for Contoso",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )
    return move_deal(deal.pk, "discovery", by=alice, expected_version=1)


def change_url(deal) -> str:
    return f"/admin/deals/deal/{deal.pk}/change/"


def form_of(deal, **changes) -> dict:
    """The admin's change form for `deal` as loaded, with `changes` typed in."""
    data = {
        "title": deal.title,
        "value": "" if deal.value is None else str(deal.value),
        "currency": deal.currency,
        "expected_close_date": "",
        "notes": deal.notes,
        "custom": json.dumps(deal.custom),
        "checklist": json.dumps(deal.checklist),
        "owner": deal.owner_id or "",
        "organization": "",
        "contact": "",
        "product": "",
        "version": deal.version,
        "_save": "Save",
    }
    return {**data, **changes}


def test_the_change_form_shows_what_moves_own_without_inputs(admin, deal):
    page = admin.get(change_url(deal)).content.decode()

    for name in ("status", "stage", "pipeline", "closed_at", "stage_entered_at"):
        assert f'name="{name}"' not in page
    for name in ("loss_reason", "loss_note", "responsible", "created_at"):
        assert f'name="{name}"' not in page
    assert f'type="hidden" name="version" value="{deal.version}"' in page
    assert 'name="title"' in page


def test_a_status_and_close_date_posted_to_the_admin_are_not_stored(admin, deal):
    events = StageEvent.objects.filter(deal=deal).count()

    answer = admin.post(
        change_url(deal),
        form_of(
            deal,
            status="won",
            closed_at_0="2026-05-01",
            closed_at_1="10:00:00",
            stage=deal.pipeline.stages.get(key="contract").pk,
            version=99,
        )
        | {"version": deal.version},
    )

    assert answer.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.stage.key) == ("open", None, "discovery")
    assert StageEvent.objects.filter(deal=deal).count() == events
    assert Clock.objects.filter(deal=deal, kind="age", state="running").exists()


def test_an_admin_edit_is_saved_through_the_service_and_bumps_the_version(admin, deal):
    answer = admin.post(change_url(deal), form_of(deal, title="Backup and restore"))

    assert answer.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.version) == ("Backup and restore", 3)


def test_an_admin_edit_on_a_deal_changed_since_it_was_loaded_is_a_conflict(
    admin, deal, alice
):
    loaded = form_of(deal, title="Admin's title")
    update_deal(deal.pk, {"title": "Alice's title"}, by=alice, expected_version=2)

    answer = admin.post(change_url(deal), loaded)

    assert answer.status_code == 200
    assert "changed since you loaded it" in answer.content.decode()
    deal.refresh_from_db()
    assert (deal.title, deal.version) == ("Alice's title", 3)


def test_a_custom_value_of_the_wrong_type_is_refused_at_its_field(
    admin, deal, pipeline
):
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()

    answer = admin.post(
        change_url(deal), form_of(deal, custom=json.dumps({"seats": "many"}))
    )

    assert answer.status_code == 200
    assert "custom.seats" in answer.content.decode()
    deal.refresh_from_db()
    assert (deal.custom, deal.version) == ({}, 2)


def test_a_new_owner_set_in_the_admin_takes_the_responsibility_and_the_clock(
    admin, deal, bob
):
    answer = admin.post(change_url(deal), form_of(deal, owner=bob.pk))

    assert answer.status_code == 302
    deal.refresh_from_db()
    assert (deal.owner, deal.responsible) == (bob, bob)
    (clock,) = Clock.objects.filter(deal=deal, kind="age", state="running")
    assert clock.responsible == bob


def test_deals_are_neither_added_nor_deleted_in_the_admin(admin, deal):
    changes = DealChange.objects.count()

    assert admin.get("/admin/deals/deal/add/").status_code == 403
    assert (
        admin.post(f"/admin/deals/deal/{deal.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    admin.post(
        "/admin/deals/deal/",
        {"action": "delete_selected", "_selected_action": [deal.pk], "post": "yes"},
    )

    assert Deal.objects.filter(pk=deal.pk).exists()
    assert StageEvent.objects.filter(deal=deal).exists()
    assert Clock.objects.filter(deal=deal).exists()
    assert DealChange.objects.count() == changes


def history_rows(deal, alice):
    event = StageEvent.objects.filter(deal=deal).latest("id")
    clock = Clock.objects.filter(deal=deal).first()
    activity = Activity.objects.create(
        deal=deal, kind="call", subject="First call", done=True, at=T0, by=alice
    )
    return {"stageevent": event, "clock": clock, "activity": activity}


@pytest.mark.parametrize(
    "model", ["deals/stageevent", "clocks/clock", "deals/activity"]
)
def test_history_and_clocks_are_shown_but_never_changed_in_the_admin(
    admin, deal, alice, model
):
    row = history_rows(deal, alice)[model.split("/")[1]]
    base = f"/admin/{model}/"

    assert admin.get(f"{base}{row.pk}/change/").status_code == 200
    assert admin.post(f"{base}{row.pk}/change/", {}).status_code == 403
    assert admin.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get(f"{base}add/").status_code == 403
    assert type(row).objects.filter(pk=row.pk).exists()


def test_leads_and_their_assignments_are_shown_but_never_changed_in_the_admin(
    admin, pipeline, alice
):
    lead = Lead.objects.create(
        pipeline=pipeline, name="Ann", channel="api", created_at=T0, owner=alice
    )
    assignment = LeadAssignment.objects.create(
        lead=lead, owner=alice, reason="round robin", at=T0
    )

    for base, row in (("leads/lead", lead), ("leads/leadassignment", assignment)):
        url = f"/admin/{base}/{row.pk}/change/"
        assert admin.get(url).status_code == 200
        assert admin.post(url, {"status": "won"}).status_code == 403
        assert admin.post(f"/admin/{base}/{row.pk}/delete/", {}).status_code == 403
    lead.refresh_from_db()
    assert lead.status == "new"
