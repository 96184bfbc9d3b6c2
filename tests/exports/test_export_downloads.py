"""The board's and the inbox's "Download CSV" links: what each page shows
its viewer, streamed, no more."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from dealgate.pipelines.models import Pipeline

T0 = dt.datetime(2026, 6, 1, 22, 30, tzinfo=dt.UTC)  # 2 June in Berlin


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


@pytest.fixture
def renewals(db):
    pipeline = Pipeline.objects.create(key="renewals", name="Renewals")
    pipeline.stages.create(key="due", name="Renewal due", position=0)
    return pipeline


@pytest.fixture
def deals(pipeline, renewals, alice, bob):
    inquiry = pipeline.stages.get(key="inquiry")
    made = {}
    for title, owner, status in [
        ("Alice open", alice, "open"),
        ("Bob open", bob, "open"),
        ("Nobody's open", None, "open"),
        ("Alice lost", alice, "lost"),
        ("Bob won", bob, "won"),
    ]:
        made[title] = Deal.objects.create(
            pipeline=pipeline,
            stage=inquiry,
            title=title,
            owner=owner,
            status=status,
            loss_reason="price" if status == "lost" else "",
            created_at=T0,
            stage_entered_at=T0,
            closed_at=None if status == "open" else T0,
        )
    Deal.objects.create(
        pipeline=renewals,
        stage=renewals.stages.get(),
        title="Elsewhere",
        owner=alice,
        created_at=T0,
    )
    return made


def _rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def test_a_rep_downloads_the_open_deals_of_the_board_and_no_closed_ones(
    client, deals, alice
):
    client.force_login(alice)
    response = client.get("/board/csv/", {"pipeline": "new-business"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == (
        'attachment; filename="deals-new-business-2026-06-02.csv"'
    )
    titles = [row["title"] for row in _rows(response)]
    assert titles == ["Alice open", "Bob open", "Nobody's open"]


def test_a_status_in_the_address_does_not_widen_the_boards_download(
    client, deals, alice
):
    client.force_login(alice)
    response = client.get("/board/csv/", {"pipeline": "new-business", "status": "won"})
    assert {row["status"] for row in _rows(response)} == {"open"}


@pytest.mark.parametrize(
    ("owner", "titles"),
    [("bob", ["Bob open"]), ("(none)", ["Nobody's open"])],
)
def test_the_boards_owner_filter_narrows_its_download(
    client, deals, alice, owner, titles
):
    client.force_login(alice)
    response = client.get("/board/csv/", {"pipeline": "new-business", "owner": owner})
    assert [row["title"] for row in _rows(response)] == titles


def test_the_board_links_its_download_with_its_filters(client, deals, alice):
    client.force_login(alice)
    page = client.get("/", {"pipeline": "new-business", "owner": "bob"})
    assert b'href="/board/csv/?pipeline=new-business&amp;owner=bob"' in page.content


def test_the_downloads_need_a_signed_in_person(client, deals):
    for address in ("/board/csv/", "/leads/csv/"):
        response = client.get(address)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_a_download_for_an_owner_who_is_no_one_is_refused_naming_the_filter(
    client, deals, alice
):
    client.force_login(alice)
    response = client.get("/board/csv/", {"owner": "zed"})
    assert response.status_code == 400
    assert b"owner: there is no user" in response.content
    response = client.get("/leads/csv/", {"owner": "zed"})
    assert response.status_code == 400
    assert b"owner: there is no user" in response.content


@pytest.fixture
def leads(pipeline, renewals, alice, bob):
    made = {}
    for name, status, owner, where in [
        ("Ann New", "new", None, pipeline),
        ("Ben Assigned", "assigned", bob, pipeline),
        ("Cy Answered", "answered", alice, pipeline),
        ("Di Converted", "converted", alice, pipeline),
        ("Ed Disqualified", "disqualified", bob, pipeline),
        ("Flo Renewal", "new", None, renewals),
    ]:
        made[name] = Lead.objects.create(
            pipeline=where,
            name=name,
            status=status,
            owner=owner,
            channel="api",
            created_at=T0,
        )
    return made


def test_a_rep_downloads_the_open_leads_of_the_inbox_and_no_closed_ones(
    client, leads, alice
):
    client.force_login(alice)
    response = client.get("/leads/csv/", {"pipeline": "new-business"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="leads-new-business-2026-06-02.csv"'
    )
    names = [row["name"] for row in _rows(response)]
    assert names == ["Ann New", "Ben Assigned", "Cy Answered"]


def test_the_inbox_download_without_a_pipeline_holds_every_pipelines_open_leads(
    client, leads, alice
):
    client.force_login(alice)
    response = client.get("/leads/csv/", {"owner": "", "status": "converted"})
    names = [row["name"] for row in _rows(response)]
    assert names == ["Ann New", "Ben Assigned", "Cy Answered", "Flo Renewal"]
    assert "leads-all-" in response["Content-Disposition"]


def test_the_inbox_links_its_download_with_its_filters(client, leads, alice):
    client.force_login(alice)
    page = client.get("/leads/", {"pipeline": "new-business", "owner": "bob"})
    assert b'href="/leads/csv/?pipeline=new-business&amp;owner=bob"' in page.content


def test_a_download_of_a_pipeline_that_is_not_there_is_refused_naming_it(
    client, deals, leads, alice
):
    client.force_login(alice)
    response = client.get("/board/csv/", {"pipeline": "nowhere"})
    assert response.status_code == 404
    assert b"pipeline: no pipeline &#x27;nowhere&#x27;" in response.content
    response = client.get("/leads/csv/", {"pipeline": "nowhere"})
    assert response.status_code == 404
