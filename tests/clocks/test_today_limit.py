"""Today stays small whatever runs out: the most urgent TODAY_LIMIT of each
section, the rest counted in SQL and shown a page at a time."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

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


def more_link(response) -> str:
    """The address the first "more" row of `response` fetches for htmx."""
    found = re.search(r'hx-get="(/today/more/\?[^"]+)"', response.content.decode())
    assert found, "no more link"
    return found.group(1).replace("&amp;", "&")


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
    last = Clock.objects.get(deal__title="Deal 049")
    place = f"{pipeline.pk}:{last.due_at.isoformat()},{last.pk}"
    assert more_link(response) == (
        f"/today/more/?{urlencode({'section': 'over_limit', 'after': place})}"
    )


def test_the_more_link_lists_the_rest_whole_or_as_rows_for_htmx(
    pipeline, alice, signed_in_alice, clock
):
    overdue_deals(pipeline, alice, TODAY_LIMIT + 3)

    link = more_link(signed_in_alice.get("/today/"))

    page = text_of(signed_in_alice.get(link))
    rows = signed_in_alice.get(link, HTTP_HX_REQUEST="true").content.decode()

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

    link = more_link(client.get("/today/?person=alice"))
    more = client.get(link)

    assert "person=alice" in link
    assert "Deal 050" in text_of(more)


def test_a_more_page_past_the_end_says_so(pipeline, alice, signed_in_alice, clock):
    deals = overdue_deals(pipeline, alice, 2)
    last = Clock.objects.get(deal=deals[-1])
    place = f"{pipeline.pk}:{last.due_at.isoformat()},{last.pk}"

    page = text_of(
        signed_in_alice.get("/today/more/", {"section": "over_limit", "after": place})
    )

    assert "Nothing more in this list: it holds 2." in page


@pytest.mark.parametrize(
    "query, said",
    [
        ("section=everything", "section must be one of"),
        ("section=windows&after=-1", "after must be a place"),
        ("section=windows&after=1:2026-06-01T09:00:00,5", "after must be a place"),
        ("section=windows&after=1:2026-06-01T09:00:00Z,x", "after must be a place"),
        ("section=windows&after=<b>1</b>", "after must be a place"),
        ("section=windows&after=1:9999-12-31T23:59:59-01:00,5", "after must be"),
    ],
)
def test_a_more_page_refuses_an_unknown_section_or_place(
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

    paged, after = [], None
    for _ in range(4):
        with django_assert_max_num_queries(8):
            section = today_section(
                [alice], clock.now, "over_limit", after=after, limit=4
            )
        assert section.count == 14 and section.first == len(paged) + 1
        paged += [d.clock.pk for d in section.deadlines]
        after = section.places

    assert paged == everything
    # Due on the same days, the round-the-clock ones are more business time over.
    first = Clock.objects.filter(pk__in=paged[:7])
    assert {c.pipeline_id for c in first} == {always.pk}


def test_an_obligation_met_from_the_first_page_does_not_hide_one_from_the_next(
    pipeline, alice, signed_in_alice, clock
):
    """Once a clock of the first page is met, every later one moves up a
    place: the "more" link read before still starts right after the last
    row shown, not past the one that took the freed place."""
    deals = overdue_deals(pipeline, alice, TODAY_LIMIT + 3)
    link = more_link(signed_in_alice.get("/today/"))
    Clock.objects.filter(deal=deals[0]).update(resolved_at=clock.now, is_open=False)

    page = text_of(signed_in_alice.get(link))

    assert "Deal 050" in page and "Deal 052" in page and "Deal 049" not in page
    assert "50 to 52 of 52" in page
