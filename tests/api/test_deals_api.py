import datetime as dt

import pytest

from dealgate.deals.models import Deal, StageEvent
from tests.conftest import PASSWORD

WHEN = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    stage = pipeline.stages.get(key="discovery")
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Firewall refresh",
        owner=alice,
        value=12500,
        created_at=WHEN,
        stage_entered_at=WHEN,
    )
    StageEvent.objects.create(deal=deal, to_stage=stage, to_status="open", at=WHEN)
    return deal


def test_the_api_refuses_anonymous_callers(client, deal):
    response = client.get(f"/api/v1/deals/{deal.pk}")
    assert response.status_code == 401


def test_a_deal_is_read_with_its_stage_and_version(client, alice, deal):
    client.login(username="alice", password=PASSWORD)
    body = client.get(f"/api/v1/deals/{deal.pk}").json()
    assert body["title"] == "Firewall refresh"
    assert body["stage"] == "discovery"
    assert body["status"] == "open"
    assert body["version"] == 1


def test_a_missing_deal_is_a_404_with_a_message(client, alice, db):
    client.login(username="alice", password=PASSWORD)
    response = client.get("/api/v1/deals/999999")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "no deal with id 999999"}


def test_history_lists_the_stage_events(client, alice, deal):
    client.login(username="alice", password=PASSWORD)
    events = client.get(f"/api/v1/deals/{deal.pk}/history").json()
    assert [(e["from_stage"], e["to_stage"], e["to_status"]) for e in events] == [
        (None, "discovery", "open")
    ]


def test_the_openapi_schema_is_published(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/deals/{deal_id}" in schema["paths"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            '{"kind": "task", "subject": "Call back", "due_at": "tomorrow"}',
            "due_at",
            "due_at: Input should be a valid datetime",
        ),
        ('{"kind": 5}', "kind", "kind: Input should be a valid string; subject:"),
        ("{not json", "body", "the body is not JSON"),
    ],
)
def test_a_body_of_the_wrong_shape_is_refused_in_the_error_family_naming_the_field(
    client, alice, deal, body, field, says
):
    client.login(username="alice", password=PASSWORD)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/activities", body, content_type="application/json"
    )

    assert response.status_code == 422
    error = response.json()
    assert (error["code"], error["field"]) == ("invalid", field)
    assert says in error["message"]
    assert not deal.activities.exists()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"version": 1, "title": "\\ud800"}', "lone surrogate"),
        ('{"version": 1, "custom": {"k": ' + "[" * 900 + "]" * 900 + "}}", "nested"),
        ('{"version": 1, "custom": {"k": ' + "[" * 5000 + "]" * 5000 + "}}", "nested"),
    ],
)
def test_a_body_no_database_or_check_can_take_is_a_422_not_a_500(
    client, alice, deal, body, says
):
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}", body, content_type="application/json"
    )

    assert response.status_code == 422, response.content
    assert response.json()["field"] == "body" and says in response.json()["message"]


def test_a_body_past_the_servers_limit_is_a_json_error(client, alice, deal, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.login(username="alice", password=PASSWORD)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}",
        '{"version": 1, "notes": "' + "x" * 2000 + '"}',
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "more than the server takes" in response.json()["message"]
