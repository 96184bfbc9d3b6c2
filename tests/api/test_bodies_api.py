"""Every API endpoint reads its body by a declared schema that refuses
unknown keys, or takes none: a body sent where none is read is refused (422
naming `body`), never ignored. A task was marked done under {"done": false},
and a lead converted into the first stage under {"stage": "discovery"}."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import Lead
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(pipeline, alice):
    return Lead.objects.create(
        pipeline=pipeline,
        email="a@example.com",
        company="Initech AG",
        owner=alice,
        created_at=NOW,
    )


@pytest.fixture
def task(pipeline, alice, now):
    deal = make_deal(pipeline, "discovery", owner=alice)
    return Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the proposal",
        done=False,
        due_at=NOW + dt.timedelta(days=2),
        at=NOW,
        by=alice,
    )


def _post(client, url, body, content_type="application/json"):
    return client.generic("POST", url, body, content_type=content_type)


def _done_url(task: Activity) -> str:
    return f"/api/v1/deals/{task.deal_id}/tasks/{task.pk}/done"


def test_a_task_is_not_marked_done_under_a_body_it_does_not_read(client, alice, task):
    client.force_login(alice)

    response = _post(client, _done_url(task), '{"done": false}')

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert response.json()["message"].startswith("unknown field done: ")
    task.refresh_from_db()
    assert not task.done


@pytest.mark.parametrize("body", ["{oops", "[]", '"x"', "null"])
def test_a_body_that_is_no_empty_object_is_refused_where_none_is_read(
    client, alice, task, body
):
    client.force_login(alice)

    response = _post(client, _done_url(task), body, content_type="text/plain")

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "reads no body; send none" in response.json()["message"]
    task.refresh_from_db()
    assert not task.done


@pytest.mark.parametrize("body", ["", "  \n", "{}"])
def test_no_body_or_an_empty_object_is_taken_where_none_is_read(
    client, alice, task, body
):
    client.force_login(alice)

    response = _post(client, _done_url(task), body)

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.done


def test_a_get_with_a_body_is_refused_too(client, alice, task):
    client.force_login(alice)

    response = client.generic(
        "GET", f"/api/v1/deals/{task.deal_id}", '{"fields": ["title"]}'
    )

    assert response.status_code == 422
    assert response.json()["field"] == "body"


def test_a_conversion_with_an_unknown_key_is_refused_and_converts_nothing(
    client, alice, lead
):
    client.force_login(alice)

    response = _post(
        client,
        f"/api/v1/leads/{lead.pk}/convert",
        '{"stage": "discovery", "bogus": 1}',
    )

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "bogus",
        "unknown field bogus",
    )
    lead.refresh_from_db()
    assert lead.is_open and not Deal.objects.exists()


def test_a_conversion_starts_the_deal_in_the_stage_it_names(client, alice, lead):
    client.force_login(alice)

    response = _post(
        client, f"/api/v1/leads/{lead.pk}/convert", '{"stage": "discovery"}'
    )

    assert response.status_code == 200
    assert Deal.objects.get(pk=response.json()["deal"]).stage.key == "discovery"


def test_a_conversion_without_a_body_starts_in_the_first_stage(client, alice, lead):
    client.force_login(alice)

    response = _post(client, f"/api/v1/leads/{lead.pk}/convert", "")

    assert response.status_code == 200
    assert Deal.objects.get(pk=response.json()["deal"]).stage.key == "inquiry"


def test_a_conversion_into_a_stage_the_pipeline_lacks_is_refused(client, alice, lead):
    client.force_login(alice)

    response = _post(client, f"/api/v1/leads/{lead.pk}/convert", '{"stage": "nope"}')

    assert response.status_code == 422
    assert response.json()["field"] == "stage"
    lead.refresh_from_db()
    assert lead.is_open and not Deal.objects.exists()


def test_a_move_with_an_unknown_key_is_refused(client, alice, pipeline):
    deal = make_deal(pipeline, "discovery", owner=alice)
    client.force_login(alice)

    response = _post(
        client,
        f"/api/v1/deals/{deal.pk}/move",
        '{"to": "proposal", "version": 1, "reason": "asked"}',
    )

    assert response.status_code == 422
    assert response.json()["field"] == "reason"
    deal.refresh_from_db()
    assert deal.stage.key == "discovery"


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _object_schemas(schema, node):
    """Each object schema `node` holds, following $refs."""
    pending, seen = [node], set()
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None and ref not in seen:
                seen.add(ref)
                pending.append(schema["components"]["schemas"][ref.rsplit("/")[-1]])
            if node.get("type") == "object" and "properties" in node:
                yield node
            pending.extend(node.values())


def test_every_body_schema_refuses_keys_it_does_not_name(client, db):
    schema = client.get("/api/v1/openapi.json").json()

    loose = []
    for path, method, operation in _operations(schema):
        body = operation.get("requestBody")
        if body is None:
            continue
        for found in _object_schemas(schema, body):
            if found.get("additionalProperties") is not False:
                loose.append(f"{method} {path}: {found.get('title')}")

    assert loose == []


def test_every_endpoint_without_a_body_schema_refuses_a_body(client, olivia):
    schema = client.get("/api/v1/openapi.json").json()
    client.force_login(olivia)

    answered = {}
    for path, method, operation in _operations(schema):
        if "requestBody" in operation:
            continue
        url = path.replace("{deal_id}", "1").replace("{task_id}", "1")
        url = url.replace("{lead_id}", "1")
        response = client.generic(method.upper(), url, '{"x": 1}')
        answered[f"{method} {path}"] = (
            response.status_code,
            response.json().get("field"),
        )

    assert len(answered) >= 4
    assert set(answered.values()) == {(422, "body")}, answered
