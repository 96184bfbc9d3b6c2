import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="Cloud migration",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield client


def declare_custom_fields(pipeline):
    pipeline.custom_fields = [
        {"key": "need", "label": "Need", "type": "text"},
        {"key": "budget", "label": "Budget", "type": "number"},
        {"key": "seats", "label": "Seats", "type": "number"},
    ]
    pipeline.save()


def post_move(api, deal, **payload):
    return api.post(
        f"/api/v1/deals/{deal.pk}/move", payload, content_type="application/json"
    )


def test_a_move_through_the_api_returns_the_new_version(api, deal):
    response = post_move(api, deal, to="discovery", version=1)
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["version"]) == ("discovery", 2)
    assert StageEvent.objects.get(deal=deal).source == "api"


def test_lost_without_a_reason_is_a_422_naming_the_reason(api, deal):
    response = post_move(api, deal, to="lost", version=1)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "loss_reason"
    assert "loss reason" in body["message"]
    deal.refresh_from_db()
    assert deal.status == "open"


def test_a_stale_version_is_a_409_and_changes_nothing(api, deal):
    assert post_move(api, deal, to="discovery", version=1).status_code == 200
    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "title": "Edited on an old copy"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    deal.refresh_from_db()
    assert (deal.title, deal.stage.key) == ("Cloud migration", "discovery")
    assert StageEvent.objects.filter(deal=deal).count() == 1


def test_an_edit_on_the_current_version_is_saved(api, deal):
    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "value": "4800.00"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["value"] == "4800.00"


def test_an_unknown_stage_is_a_422_naming_the_field(api, deal):
    response = post_move(api, deal, to="negotiation", version=1)
    assert response.status_code == 422
    assert response.json()["field"] == "to"


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"value": "1e400"}, "value", "not a number"),
        ({"value": "1234567890123.5"}, "value", "digits"),
        ({"value": "99999999999999999999999"}, "value", "digits"),
        ({"value": "12.345"}, "value", "decimal places"),
        ({"title": "   "}, "title", "blank"),
        ({"title": "x" * 301}, "title", "300"),
        ({"title": "Migration\nBcc: all@example.com"}, "title", "one line"),
        ({"title": "Tab\tinside"}, "title", "control characters"),
        ({"notes": "a\x07b"}, "notes", "control characters"),
        ({"custom": {"need": "x\x00"}}, "custom.need", "NUL"),
        ({"custom": {"a\x00": ["x"]}}, "custom", "NUL"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"currency": "eu"}, "currency", "ISO 4217"),
        ({"expected_close_date": "1850-01-01"}, "expected_close_date", "1901"),
        ({"expected_close_date": "2199-01-01"}, "expected_close_date", "2198"),
        ({"currency": "XXX1"}, "currency", "ISO 4217"),
    ],
)
def test_an_edit_the_columns_cannot_hold_is_a_422_and_changes_nothing(
    api, deal, changes, field, says
):
    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, **changes},
        content_type="application/json",
    )

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["field"] == field and says in body["message"]
    deal.refresh_from_db()
    assert (deal.version, deal.title, deal.value) == (1, "Cloud migration", None)
    # The deal still reads back everywhere.
    assert api.get(f"/api/v1/deals/{deal.pk}").status_code == 200


def test_an_edit_naming_a_field_it_cannot_change_is_refused(api, deal, bob):
    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "stage": "proposal", "title": "New title"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "stage" in response.content.decode()
    deal.refresh_from_db()
    assert (deal.version, deal.title) == (1, "Cloud migration")


def test_notes_set_to_null_are_cleared(api, deal):
    Deal.objects.filter(pk=deal.pk).update(notes="call back in May")

    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "notes": None},
        content_type="application/json",
    )

    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.notes == ""


def test_an_edit_of_some_custom_fields_keeps_the_others(api, deal):
    declare_custom_fields(deal.pipeline)
    Deal.objects.filter(pk=deal.pk).update(
        custom={"need": "audit", "budget": 5000, "seats": 40},
        checklist={"budget_confirmed": True, "decision_date_named": False},
    )

    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {
            "version": 1,
            "custom": {"need": "network audit", "seats": None},
            "checklist": {"decision_date_named": True},
        },
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.custom == {"need": "network audit", "budget": 5000}
    assert deal.checklist == {"budget_confirmed": True, "decision_date_named": True}


def test_a_custom_edit_on_a_stale_version_merges_nothing(api, deal):
    declare_custom_fields(deal.pipeline)
    Deal.objects.filter(pk=deal.pk).update(custom={"need": "audit"}, version=2)

    response = api.patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": 1, "custom": {"budget": 10}},
        content_type="application/json",
    )

    assert response.status_code == 409
    deal.refresh_from_db()
    assert deal.custom == {"need": "audit"}


def test_a_move_the_database_undid_in_a_deadlock_is_a_409_to_send_again(
    api, deal, monkeypatch
):
    from django.db import OperationalError

    from dealgate.deals import services

    def deadlocked(*args, **kwargs):
        raise OperationalError(
            "deadlock detected\nDETAIL:  Process 1 waits for ShareLock on "
            "transaction 2; blocked by process 3."
        )

    monkeypatch.setattr(services, "move_deal", deadlocked)

    response = post_move(api, deal, to="discovery", version=1)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "send it again" in response.json()["message"]


def test_any_other_database_failure_stays_a_server_error_in_json(
    api, deal, monkeypatch
):
    from django.db import OperationalError

    from dealgate.deals import services

    def broken(*args, **kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(services, "move_deal", broken)

    response = post_move(api, deal, to="discovery", version=1)

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "disk I/O" not in response.content.decode()
