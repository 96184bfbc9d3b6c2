"""POST /api/v1/deals without `pipeline` makes the deal in the only pipeline,
as a lead's capture does; with several it names them and asks for one."""

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.pipelines.models import Pipeline
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    with timesource.frozen_at(T0):
        yield client


def post_deal(api, **payload):
    return api.post("/api/v1/deals", payload, content_type="application/json")


def test_a_deal_without_pipeline_goes_to_the_only_one(api, pipeline):
    response = post_deal(api, title="Backup for Contoso")

    assert response.status_code == 201, response.content
    assert response.json()["pipeline"] == "new-business"
    assert Deal.objects.get().pipeline == pipeline


def test_a_deal_without_pipeline_among_several_is_a_422_naming_them(api, pipeline):
    Pipeline.objects.create(key="renewals", name="Renewals", calendar={})

    response = post_deal(api, title="Backup for Contoso")

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "pipeline"
    assert "several pipelines (new-business, renewals)" in body["message"]
    assert not Deal.objects.exists()


def test_a_deal_naming_a_pipeline_that_does_not_exist_is_a_422(api, pipeline):
    response = post_deal(api, pipeline="nope", title="Backup for Contoso")

    assert response.status_code == 422
    assert response.json()["field"] == "pipeline"


def test_a_deal_without_pipeline_where_there_is_none_is_refused(api, db):
    response = post_deal(api, title="Backup for Contoso")

    assert response.status_code == 404
    assert "there is no pipeline yet" in response.json()["message"]
