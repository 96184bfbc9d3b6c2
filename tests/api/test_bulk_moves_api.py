"""The bulk door: several deals at once, through the same gates, all or nothing."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals import services
from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deals(pipeline, alice):
    stage = pipeline.stages.get(key="proposal")
    return [
        Deal.objects.create(
            pipeline=pipeline,
            stage=stage,
            title=f"Deal {n}",
            owner=alice,
            created_at=T0,
            stage_entered_at=T0,
        )
        for n in range(3)
    ]


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    with timesource.frozen_at(T0 + dt.timedelta(days=2)):
        yield client


def bulk(api, deals, **payload):
    body = {"deals": [{"id": d.pk, "version": d.version} for d in deals], **payload}
    return api.post("/api/v1/deals/bulk-move", body, content_type="application/json")


def test_a_bulk_lost_without_a_reason_is_refused_and_nothing_is_lost(api, deals):
    response = bulk(api, deals, to="lost")

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "bulk_move_refused"
    assert set(body["refusals"]) == {str(d.pk) for d in deals}
    assert "loss reason" in body["refusals"][str(deals[0].pk)]
    assert not Deal.objects.filter(status="lost").exists()
    assert not StageEvent.objects.exists()


def test_a_bulk_lost_with_a_reason_stores_it_on_every_deal(api, deals):
    response = bulk(api, deals, to="lost", loss_reason="price")

    assert response.status_code == 200
    assert [d["status"] for d in response.json()] == ["lost"] * 3
    assert Deal.objects.filter(status="lost", loss_reason="price").count() == 3
    assert StageEvent.objects.filter(to_status="lost", source="api-bulk").count() == 3


def test_one_stale_deal_stops_the_whole_bulk_move(api, deals):
    Deal.objects.filter(pk=deals[1].pk).update(version=5)

    response = bulk(api, deals, to="contract")

    assert response.status_code == 422
    assert list(response.json()["refusals"]) == [str(deals[1].pk)]
    assert set(Deal.objects.values_list("stage__key", flat=True)) == {"proposal"}
    assert not StageEvent.objects.exists()


def test_more_deals_than_a_bulk_move_takes_are_refused_naming_deals_and_the_limit(
    api, deals
):
    most = services.MOST_DEALS_PER_BULK_MOVE
    body = {
        "deals": [{"id": deals[0].pk + n, "version": 1} for n in range(most + 1)],
        "to": "contract",
    }

    response = api.post(
        "/api/v1/deals/bulk-move", body, content_type="application/json"
    )

    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid"
    assert error["field"] == "deals"
    assert f"at most {most:,} deals" in error["message"]
    assert f"has {most + 1:,}" in error["message"]
    assert set(Deal.objects.values_list("stage__key", flat=True)) == {"proposal"}
    assert not StageEvent.objects.exists()


def test_a_bulk_move_of_exactly_the_limit_moves_them_all(api, deals, monkeypatch):
    monkeypatch.setattr(services, "MOST_DEALS_PER_BULK_MOVE", len(deals))

    assert bulk(api, deals, to="contract").status_code == 200
    monkeypatch.setattr(services, "MOST_DEALS_PER_BULK_MOVE", len(deals) - 1)
    refused = bulk(api, Deal.objects.order_by("pk"), to="review")

    assert refused.status_code == 422
    assert refused.json()["field"] == "deals"


def test_the_services_bulk_move_keeps_to_the_limit_at_every_door(deals, alice):
    most = services.MOST_DEALS_PER_BULK_MOVE
    versions = {deals[0].pk + n: None for n in range(most + 1)}

    with pytest.raises(ValidationError) as refused:
        services.move_deals(versions, "contract", by=alice)

    assert refused.value.field == "deals"
    assert not StageEvent.objects.exists()


def test_the_schema_states_how_many_distinct_deals_a_bulk_move_takes(api):
    schema = api.get("/api/v1/openapi.json").json()
    deals = schema["components"]["schemas"]["BulkMoveIn"]["properties"]["deals"]

    # A list longer than the limit may hold fewer deals: no maxItems to stop it.
    assert "maxItems" not in deals
    most = services.MOST_DEALS_PER_BULK_MOVE
    assert f"at most {most:,} distinct deals" in deals["description"]


def test_the_limit_counts_distinct_deals_so_repeated_ids_are_taken_once(
    api, deals, monkeypatch
):
    monkeypatch.setattr(services, "MOST_DEALS_PER_BULK_MOVE", len(deals))

    response = bulk(api, [*deals, *deals], to="contract")

    assert response.status_code == 200
    assert sorted(d["id"] for d in response.json()) == sorted(d.pk for d in deals)
    assert set(Deal.objects.values_list("stage__key", flat=True)) == {"contract"}
    assert StageEvent.objects.filter(source="api-bulk").count() == len(deals)


def test_600_ids_of_400_deals_are_within_the_limit_of_500(api, deals):
    assert services.MOST_DEALS_PER_BULK_MOVE == 500
    first = deals[0].pk
    ids = [first + 1000 + n % 400 for n in range(600)]
    body = {"deals": [{"id": i, "version": 1} for i in ids], "to": "contract"}

    response = api.post(
        "/api/v1/deals/bulk-move", body, content_type="application/json"
    )

    # Past the limit's check: each deal is then judged, and none exists.
    assert response.status_code == 422
    assert response.json()["code"] == "bulk_move_refused"
    assert len(response.json()["refusals"]) == 400


def test_too_many_distinct_deals_are_refused_saying_how_many_were_sent(
    api, deals, monkeypatch
):
    monkeypatch.setattr(services, "MOST_DEALS_PER_BULK_MOVE", len(deals) - 1)

    response = bulk(api, [*deals, deals[0], deals[1]], to="contract")

    assert response.status_code == 422
    error = response.json()
    assert (error["code"], error["field"]) == ("invalid", "deals")
    assert error["message"] == (
        "deals: a bulk move takes at most 2 deals, this one has 3 distinct deals "
        "(5 ids with 2 repeats); send them in several moves"
    )
    assert not StageEvent.objects.exists()


def test_too_many_deals_sent_once_each_are_refused_naming_their_count_only(
    api, deals, monkeypatch
):
    monkeypatch.setattr(services, "MOST_DEALS_PER_BULK_MOVE", len(deals) - 1)

    response = bulk(api, deals, to="contract")

    assert response.status_code == 422
    assert response.json()["message"] == (
        "deals: a bulk move takes at most 2 deals, this one has 3 distinct deals; "
        "send them in several moves"
    )


def test_a_deal_sent_with_two_versions_is_refused_and_nothing_moves(api, deals):
    body = {
        "deals": [{"id": d.pk, "version": d.version} for d in deals]
        + [{"id": deals[1].pk, "version": deals[1].version + 1}],
        "to": "contract",
    }

    response = api.post(
        "/api/v1/deals/bulk-move", body, content_type="application/json"
    )

    assert response.status_code == 422
    assert response.json()["field"] == "deals"
    assert response.json()["message"] == (
        f"deals: deal {deals[1].pk} is sent with versions {deals[1].version} and "
        f"{deals[1].version + 1}; send each deal once, with the version you read"
    )
    assert set(Deal.objects.values_list("stage__key", flat=True)) == {"proposal"}
