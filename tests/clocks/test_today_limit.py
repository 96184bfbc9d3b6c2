"""Today stays small whatever runs out: the most urgent TODAY_LIMIT of each
section, the rest counted in SQL and shown a page at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.clocks import queries
from dealgate.clocks.models import Clock
from dealgate.clocks.queries import TODAY_LIMIT, deadlines, today_for, today_section
from dealgate.deals.models import Deal
from dealgate.pipelines.models import Pipeline, Stage
from tests.conftest import PASSWORD
from tests.web.helpers import text_of

OLD = dt.datetime(2017, 3, 1, 9, tzinfo=dt.UTC)


def overdue_deals(pipeline: Pipeline, owner, count: int, *, name: str = "Deal"):
    """`count` deals past their stage's age limit since 2017, as an old
    import leaves them: deal i ran out i days after March 1st, so the
    first is the most overdue."""
    stage = pipeline.stages.order_by("position").first()
    deals = Deal.objects.bulk_create(
        Deal(
            pipeline=pipeline,
            stage=stage,
            title=f"{name} {i:03}",
            owner=owner,
            responsible=owner,
            created_at=OLD,
            stage_entered_at=OLD,
            source="import",
        )
        for i in range(count)
    )
    Clock.objects.bulk_create(
        Clock(
            kind=Clock.Kind.AGE,
            state=Clock.State.BREACHED,
            key=f"test-age-{deal.pk}",
            pipeline=pipeline,
            deal=deal,
            stage=stage,
            responsible=owner,
            window_minutes=960,
            started_at=OLD,
            due_at=OLD + dt.timedelta(days=i),
            late_after=OLD + dt.timedelta(days=i),
            ended_at=OLD + dt.timedelta(days=i),
            at_risk=True,
        )
        for i, deal in enumerate(deals)
    )
    return deals


@pytest.fixture
def signed_in_alice(client, alice):
    assert client.login(username=alice.username, password=PASSWORD)
    return client


def test_today_shows_fifty_most_overdue_per_section_and_counts_the_rest(
    pipeline, alice, signed_in_alice, clock
):
    overdue_deals(pipeline, alice, TODAY_LIMIT + 3)

    response = signed_in_alice.get("/today/")
    page = text_of(response)

    assert TODAY_LIMIT == 50
    assert "Deals past their age limit (53)" in page
    assert "Deal 000" in page and "Deal 049" in page
    assert "Deal 050" not in page and "Deal 052" not in page
    assert page.index("Deal 000") < page.index("Deal 001") < page.index("Deal 049")
    assert "and 3 more" in page
    html = response.content.decode()
    assert 'href="/today/more/?section=over_limit&amp;offset=50"' in html


def test_the_more_link_lists_the_rest_whole_or_as_rows_for_htmx(
    pipeline, alice, signed_in_alice, clock
):
    overdue_deals(pipeline, alice, TODAY_LIMIT + 3)

    page = text_of(signed_in_alice.get("/today/more/?section=over_limit&offset=50"))
    rows = signed_in_alice.get(
        "/today/more/?section=over_limit&offset=50", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "51 to 53 of 53, most urgent first" in page
    assert "Deal 050" in page and "Deal 052" in page and "Deal 049" not in page
    assert "more" not in page.split("most urgent first", 1)[1]
    assert rows.lstrip().startswith("<tr") and "<html" not in rows
    assert rows.count("<tr") == 3


def test_the_more_page_keeps_the_person_a_manager_chose(
    pipeline, alice, max_manager, client, clock
):
    overdue_deals(pipeline, alice, TODAY_LIMIT + 1)
    assert client.login(username=max_manager.username, password=PASSWORD)

    html = client.get("/today/?person=alice").content.decode()
    more = client.get("/today/more/?section=over_limit&offset=50&person=alice")

    assert "person=alice" in html.split("and 1 more")[0].rsplit("href=", 1)[1]
    assert "Deal 050" in text_of(more)


def test_a_more_page_past_the_end_says_so(pipeline, alice, signed_in_alice, clock):
    overdue_deals(pipeline, alice, 2)

    page = text_of(signed_in_alice.get("/today/more/?section=over_limit&offset=50"))

    assert "Nothing more in this list: it holds 2." in page


@pytest.mark.parametrize(
    "query, said",
    [
        ("section=everything&offset=0", "section must be one of"),
        ("section=windows&offset=-1", "offset"),
        ("section=windows&offset=x", "offset"),
        ("section=windows&offset=<b>1</b>", "offset must be a whole number"),
    ],
)
def test_a_more_page_refuses_an_unknown_section_or_offset(
    signed_in_alice, clock, query, said
):
    response = signed_in_alice.get(f"/today/more/?{query}")

    assert response.status_code == 400
    page = response.content.decode()
    # The site's page, where what was sent shows as text, never as markup.
    assert "This request could not be read" in page
    assert said in page and "<b>1" not in page


def test_today_reads_no_more_clocks_than_it_shows(pipeline, alice, clock, monkeypatch):
    overdue_deals(pipeline, alice, 120)
    read: list[int] = []

    def counted(clocks, now):
        found = deadlines(clocks, now)
        read.append(len(found))
        return found

    monkeypatch.setattr(queries, "deadlines", counted)
    today = today_for([alice], clock.now, limit=10)

    assert today.over_limit.count == 120 and today.over_limit.more == 110
    assert max(read) == 10


def test_pages_across_pipelines_follow_business_time_left(
    pipeline, alice, clock, django_assert_max_num_queries
):
    """A pipeline that counts every hour runs its clocks over the limit faster
    than one counting office hours: pages merge them by business time."""
    always = Pipeline.objects.create(
        key="always",
        name="Around the clock",
        calendar={
            "timezone": "UTC",
            "hours": {
                d: ["00:00-24:00"]
                for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        },
    )
    Stage.objects.create(
        pipeline=always,
        key="inquiry",
        name="Inquiry received",
        position=0,
        owner_kind=Stage.OwnerKind.DEAL_OWNER,
        age_limit_days=2,
        probability=10,
    )
    overdue_deals(pipeline, alice, 7, name="Office")
    overdue_deals(always, alice, 7, name="Always")
    everything = [
        d.clock.pk
        for d in deadlines(Clock.objects.select_related("pipeline", "deal"), clock.now)
    ]

    paged = []
    for offset in range(0, 14, 4):
        with django_assert_max_num_queries(8):
            section = today_section(
                [alice], clock.now, "over_limit", offset=offset, limit=4
            )
        assert section.count == 14
        paged += [d.clock.pk for d in section.deadlines]

    assert paged == everything
    # Due on the same days, the round-the-clock ones are more business time over.
    first = Clock.objects.filter(pk__in=paged[:7])
    assert {c.pipeline_id for c in first} == {always.pk}
