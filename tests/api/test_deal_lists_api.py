"""Reading deals in bulk: GET /api/v1/deals lists them oldest first, a page
at a time with the address of the next, narrowed by pipeline, stage,
status, owner and creation time; a deal answers everything a gate reads
(custom fields, checklist), its notes, expected close and who is
responsible; GET /api/v1/deals/ID/activities lists its activities and open
tasks. Every page is a fixed number of queries, however many rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.deals.models import Activity, Deal, IdempotencyKey
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(alice) -> dict[str, str]:
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    return {"Authorization": f"Bearer {secret}"}


def _get(client, url: str, headers: dict[str, str]):
    return client.get(url, headers=headers)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_a_listed_deal_answers_what_its_gates_read_and_who_is_responsible(
    client, pipeline, alice, headers
):
    deal = make_deal(pipeline, "proposal", owner=alice, title="Backup")
    Deal.objects.filter(pk=deal.pk).update(
        custom={"need": "offsite copies"},
        checklist={"budget": True},
        notes="Call after the board meets",
        expected_close_date=dt.date(2026, 9, 30),
        responsible=alice,
    )

    listed = _get(client, "/api/v1/deals", headers).json()["items"]
    single = _get(client, f"/api/v1/deals/{deal.pk}", headers).json()

    assert listed == [single]
    assert single["custom"] == {"need": "offsite copies"}
    assert single["checklist"] == {"budget": True}
    assert (single["notes"], single["expected_close_date"]) == (
        "Call after the board meets",
        "2026-09-30",
    )
    assert (single["owner"], single["responsible"]) == ("alice", "alice")


def test_the_filters_narrow_the_list(client, pipeline, alice, bob, headers):
    first = make_deal(pipeline, "inquiry", owner=alice, days_in_stage=10)
    won = make_deal(pipeline, "contract", owner=alice, status="won", days_in_stage=2)
    bobs = make_deal(pipeline, "inquiry", owner=bob, days_in_stage=1)

    def listed(query: str) -> list[int]:
        return _ids(_get(client, f"/api/v1/deals?{query}", headers))

    assert listed("") == [first.pk, won.pk, bobs.pk]
    assert listed("pipeline=new-business&stage=inquiry") == [first.pk, bobs.pk]
    assert listed("stage=contract") == [won.pk]
    assert listed("status=won") == [won.pk]
    assert listed("status=open&owner=alice") == [first.pk]
    since = (NOW - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(f"created_since={since}") == [won.pk, bobs.pk]
    assert listed(f"created_since={since}&owner=bob") == [bobs.pk]


def test_pages_follow_next_until_the_last(client, pipeline, alice, headers):
    deals = [make_deal(pipeline, "inquiry", owner=alice) for _ in range(5)]

    first = _get(client, "/api/v1/deals?status=open&limit=2", headers).json()
    assert [d["id"] for d in first["items"]] == [deals[0].pk, deals[1].pk]
    assert first["next"] == f"/api/v1/deals?status=open&limit=2&after={deals[1].pk}"
    added = make_deal(pipeline, "inquiry", owner=alice)
    seen = [d["id"] for d in first["items"]]
    following = first["next"]
    while following:
        page = _get(client, following, headers).json()
        seen += [d["id"] for d in page["items"]]
        following = page["next"]

    assert seen == [*(d.pk for d in deals), added.pk]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("limit=201", "limit", "less than or equal to 200"),
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=abc", "limit", "valid integer"),
        ("after=-1", "after", "greater than or equal to 0"),
        ("status=closed", "status", "'open', 'won' or 'lost'"),
        ("created_since=yesterday", "created_since", "datetime"),
        ("owner=nobody", "owner", "there is no user 'nobody'"),
        ("pipeline=renewals", "pipeline", "there is no pipeline 'renewals'"),
        ("pipeline=new-business&stage=won", "stage", "has no stage 'won'"),
        ("page=2", "page", "unknown query parameter page"),
        ("limit=5&limit=6", "limit", "sent twice"),
    ],
)
def test_a_filter_that_cannot_be_read_is_refused_naming_it(
    client, pipeline, alice, headers, query, field, says
):
    response = _get(client, f"/api/v1/deals?{query}", headers)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert says in response.json()["message"]


def test_a_token_that_does_not_open_the_deals_cannot_list_them(client, pipeline, alice):
    make_deal(pipeline, "inquiry", owner=alice)
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS)[1]

    response = client.get(
        "/api/v1/deals", headers={"Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 403
    assert "needs the scope 'leads,deals'" in response.json()["message"]


def _queries(client, url: str, headers: dict[str, str]) -> int:
    _get(client, url, headers)  # records the token's first use
    with CaptureQueriesContext(connection) as queries:
        assert _get(client, url, headers).status_code == 200
    return len(queries)


def test_a_page_costs_the_same_queries_for_three_deals_or_thirty(
    client, pipeline, alice, bob, headers
):
    url = "/api/v1/deals?pipeline=new-business&owner=alice&stage=inquiry&limit=200"
    for n in range(3):
        deal = make_deal(pipeline, "inquiry", owner=alice, organization=f"Org {n}")
        Deal.objects.filter(pk=deal.pk).update(responsible=bob)
    few = _queries(client, url, headers)
    for n in range(27):
        deal = make_deal(pipeline, "inquiry", owner=alice, organization=f"Org {n}")
        Deal.objects.filter(pk=deal.pk).update(responsible=bob)

    many = _queries(client, url, headers)

    # The token, the pipeline, the owner, the stage, the page.
    assert few == many == 5


def test_a_deals_activities_and_open_tasks_are_listed(client, pipeline, alice, headers):
    deal = make_deal(pipeline, "inquiry", owner=alice)
    call = Activity.objects.create(
        deal=deal, kind="call", subject="Intro", done=True, at=NOW, by=alice
    )
    task = Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Send the proposal",
        at=NOW,
        due_at=NOW + dt.timedelta(days=2),
        by=alice,
    )
    Activity.objects.create(
        deal=deal, kind="task", subject="Book a call", done=True, at=NOW, by=alice
    )
    other = make_deal(pipeline, "inquiry", owner=alice)
    Activity.objects.create(deal=other, kind="task", subject="Elsewhere", at=NOW)

    everything = _get(client, f"/api/v1/deals/{deal.pk}/activities", headers)
    open_tasks = _get(
        client, f"/api/v1/deals/{deal.pk}/activities?kind=task&done=false", headers
    )

    assert _ids(everything)[:2] == [call.pk, task.pk]
    assert len(_ids(everything)) == 3
    assert open_tasks.json() == {
        "items": [
            {
                "id": task.pk,
                "deal": deal.pk,
                "kind": "task",
                "subject": "Send the proposal",
                "tag": "",
                "done": False,
                "due_at": "2026-06-12T12:00:00Z",
                "at": "2026-06-10T12:00:00Z",
                "by": "alice",
                "done_at": None,
                "done_by": None,
                "detail": None,
            }
        ],
        "next": None,
    }
    done = client.post(f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done", headers=headers)
    assert done.status_code == 200


def test_a_deals_activities_cost_the_same_queries_however_many(
    client, pipeline, alice, bob, headers
):
    deal = make_deal(pipeline, "inquiry", owner=alice)
    url = f"/api/v1/deals/{deal.pk}/activities"

    def log(count: int) -> None:
        for n in range(count):
            Activity.objects.create(
                deal=deal,
                kind="task",
                subject=f"T{n}",
                at=NOW,
                by=alice,
                done=True,
                done_by=bob,
                done_at=NOW,
            )

    log(2)
    few = _queries(client, url, headers)
    log(20)

    # The token, the deal, the page.
    assert few == _queries(client, url, headers) == 3


def test_an_unknown_deals_activities_are_404(client, pipeline, headers):
    response = _get(client, "/api/v1/deals/999/activities", headers)

    assert response.status_code == 404
    assert json.loads(response.content)["message"] == "no deal with id 999"


def test_an_idempotent_answer_stored_before_the_new_fields_is_replayed(
    client, pipeline, alice, headers
):
    body = {"pipeline": "new-business", "title": "Retried"}
    sent = {**headers, "Idempotency-Key": "retry-1"}
    first = client.post(
        "/api/v1/deals", body, content_type="application/json", headers=sent
    )
    kept = IdempotencyKey.objects.get()
    for name in ("responsible", "notes", "custom", "checklist", "created_at"):
        del kept.answer[name]
    kept.save()

    again = client.post(
        "/api/v1/deals", body, content_type="application/json", headers=sent
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert (again.json()["custom"], again.json()["notes"]) == ({}, "")
