"""A deal's activities list every kind it holds, a system record (what a
pipeline's redesign wrote) among them: the `kind` filter takes, and the
OpenAPI schema names, each kind the list answers. A system record answers
its whole account (`detail`), null where it has none."""

from __future__ import annotations

from typing import get_args

import pytest

from dealgate.api.deals import ActivityKind
from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token
from tests.conftest import NOW
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(alice) -> dict[str, str]:
    secret = create_token(alice, "crm", scope=ApiToken.Scope.LEADS_AND_DEALS)[1]
    return {"Authorization": f"Bearer {secret}"}


def test_the_kinds_the_api_names_are_those_an_activity_holds():
    assert sorted(get_args(ActivityKind)) == sorted(Activity.Kind.values)


def test_a_system_record_is_listed_and_found_by_its_kind(
    client, pipeline, alice, headers
):
    deal = make_deal(pipeline, "inquiry", owner=alice)
    Activity.objects.create(deal=deal, kind="call", subject="Intro", at=NOW, by=alice)
    record = Activity.objects.create(
        deal=deal, kind="system", subject="Moved by a redesign", done=True, at=NOW
    )
    url = f"/api/v1/deals/{deal.pk}/activities"

    everything = client.get(url, headers=headers)
    records = client.get(url, {"kind": "system"}, headers=headers)

    assert "system" in [item["kind"] for item in everything.json()["items"]]
    assert records.status_code == 200, records.content
    assert [item["id"] for item in records.json()["items"]] == [record.pk]


def test_the_schema_names_every_kind_the_list_answers(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/deals/{deal_id}/activities"]["get"]
    kind = next(p for p in operation["parameters"] if p["name"] == "kind")

    assert "system" in str(kind["schema"])
    assert sorted(set(Activity.Kind.values)) == sorted(
        value
        for option in kind["schema"].get("anyOf", [kind["schema"]])
        for value in option.get("enum", [])
    )


def test_the_record_of_an_edit_of_a_closed_deal_answers_its_old_and_new_values(
    client, pipeline, alice, headers
):
    won = make_deal(pipeline, "contract", owner=alice, status=Deal.Status.WON)
    Activity.objects.create(deal=won, kind="call", subject="Intro", at=NOW, by=alice)
    services.update_deal(
        won.pk, {"notes": "Signed by the CFO"}, by=alice, expected_version=won.version
    )

    answer = client.get(f"/api/v1/deals/{won.pk}/activities", headers=headers)

    assert answer.status_code == 200, answer.content
    call, record = answer.json()["items"]
    assert call["detail"] is None
    assert record["kind"] == "system"
    assert record["detail"] == {
        "edit": {"notes": ["", "Signed by the CFO"]},
        "reason": "",
        "by": "alice",
    }
