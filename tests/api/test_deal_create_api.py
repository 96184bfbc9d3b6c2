"""POST /api/v1/deals, and owner and organization in PATCH /api/v1/deals/ID."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    with timesource.frozen_at(T0):
        yield client


@pytest.fixture
def manager_api(client, max_manager):
    client.login(username="max", password=PASSWORD)
    with timesource.frozen_at(T0):
        yield client


def post_deal(api, **payload):
    return api.post("/api/v1/deals", payload, content_type="application/json")


def test_a_deal_is_created_in_the_first_stage_and_returned_with_a_201(api, pipeline):
    response = post_deal(
        api,
        pipeline="new-business",
        title="Backup for Contoso",
        organization="Contoso",
        value="12000.50",
        currency="eur",
        expected_close_date="2026-09-30",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stage"], body["owner"], body["organization"]) == (
        "inquiry",
        "alice",
        "Contoso",
    )
    assert (body["currency"], body["value"], body["version"]) == ("EUR", "12000.50", 1)
    event = StageEvent.objects.get(deal_id=body["id"])
    assert (event.by.username, event.at, event.source) == ("alice", T0, "api")


def test_a_stage_whose_gates_are_unmet_is_a_422_listing_them(api, pipeline):
    proposal = pipeline.stages.get(key="proposal")
    proposal.entry_criteria = [
        {"label": "Budget confirmed", "rule": "checklist.budget == true"}
    ]
    proposal.save()

    response = post_deal(api, pipeline="new-business", title="X", stage="proposal")

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("move_refused", "stage")
    assert any("Budget confirmed" in line for line in body["unmet"])
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"pipeline": "renewals", "title": "X"}, "pipeline"),
        ({"pipeline": "new-business"}, "title"),
        ({"pipeline": "new-business", "title": " "}, "title"),
        ({"pipeline": "new-business", "title": "X", "currency": "XYZ"}, "currency"),
        (
            {
                "pipeline": "new-business",
                "title": "X",
                "expected_close_date": "1850-01-01",
            },
            "expected_close_date",
        ),
        ({"pipeline": "new-business", "title": "X", "stage": "nope"}, "stage"),
        ({"pipeline": "new-business", "title": "X", "owner": "nobody"}, "owner"),
        ({"pipeline": "new-business", "title": "X", "status": "won"}, "status"),
    ],
)
def test_a_refused_field_is_a_422_naming_it(api, pipeline, payload, field):
    response = post_deal(api, **payload)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert not Deal.objects.exists()


def test_a_rep_creating_a_deal_for_someone_else_gets_a_403(api, pipeline, bob):
    response = post_deal(api, pipeline="new-business", title="X", owner="bob")
    assert response.status_code == 403
    assert response.json()["field"] == "owner"


def test_null_notes_mean_none_as_in_an_edit(api, pipeline):
    response = post_deal(api, pipeline="new-business", title="Audit", notes=None)
    assert response.status_code == 201, response.content
    assert Deal.objects.get().notes == ""


def test_notes_past_their_limit_are_refused_naming_notes(api, pipeline):
    response = post_deal(
        api, pipeline="new-business", title="Audit", notes="n" * 10_001
    )
    assert response.status_code == 422
    assert response.json()["field"] == "notes"


def test_a_manager_creates_a_deal_for_a_rep(client, pipeline, max_manager, bob):
    client.login(username="max", password=PASSWORD)
    response = post_deal(client, pipeline="new-business", title="X", owner="bob")
    assert response.status_code == 201
    assert response.json()["owner"] == "bob"


def test_anonymous_callers_cannot_create_deals(client, pipeline):
    assert post_deal(client, pipeline="new-business", title="X").status_code == 401


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


def patch(api, deal, **payload):
    return api.patch(
        f"/api/v1/deals/{deal.pk}", payload, content_type="application/json"
    )


def test_patch_changes_owner_and_organization_by_name(manager_api, deal, bob):
    response = patch(manager_api, deal, version=1, owner="bob", organization="Acme")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["owner"], body["organization"], body["version"]) == ("bob", "Acme", 2)


def test_patch_with_null_owner_leaves_the_deal_unowned(manager_api, deal):
    response = patch(manager_api, deal, version=1, owner=None, organization=None)
    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["organization"]) == (None, None)


def test_a_stale_owner_change_is_a_409(manager_api, deal, bob):
    assert patch(manager_api, deal, version=1, title="Renamed").status_code == 200
    response = patch(manager_api, deal, version=1, owner="bob")
    assert response.status_code == 409
    deal.refresh_from_db()
    assert deal.owner.username == "alice"


def test_a_rep_may_not_give_their_deal_away(api, deal, bob):
    response = patch(api, deal, version=1, owner="bob")
    assert response.status_code == 403
    assert (
        response.json()["message"] == "a rep may not give a deal to bob; ask a manager"
    )


def test_a_rep_cannot_take_someone_elses_deal(client, deal, bob):
    client.login(username="bob", password=PASSWORD)
    response = patch(client, deal, version=1, owner="bob")
    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.owner.username == "alice"


def test_patch_stores_a_lower_case_currency_upper_case(api, deal):
    response = patch(api, deal, version=1, currency="usd")
    assert response.status_code == 200
    assert response.json()["currency"] == "USD"


def test_the_schema_documents_the_new_route(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert "post" in schema["paths"]["/api/v1/deals"]
