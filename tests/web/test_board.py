import datetime as dt
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from dealgate.core.numbers import Place
from dealgate.deals.models import Deal, StageEvent
from dealgate.pipelines.models import Pipeline, Stage

from .helpers import make_deal, text_of


def place_of(title):
    """The "more" link's place after the card of the deal called `title`."""
    deal = Deal.objects.get(title=title)
    return str(Place(deal.stage_entered_at, deal.pk))


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.parametrize("path", ["/", "/board/column/?stage=review", "/deals/1/"])
def test_pages_send_anonymous_visitors_to_log_in(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_login_page_signs_a_person_in_and_leads_to_the_board(
    client, alice, pipeline
):
    from tests.conftest import PASSWORD

    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("board")
    assert "Alice Rep" in text_of(response)


def test_each_column_heads_with_its_count_total_and_share(signed_in, pipeline, now):
    make_deal(pipeline, "inquiry", value=12500)
    make_deal(pipeline, "inquiry", value=1000)
    make_deal(pipeline, "proposal", value=250)
    make_deal(pipeline, "proposal", value=250)

    text = text_of(signed_in.get(reverse("board")))

    assert "Inquiry received 2 · $13,500 · 50% of open deals" in text
    assert "Discovery call booked 0 · no values · 0% of open deals" in text
    assert "Proposal requested 2 · $500 · 50% of open deals" in text
    assert "4 open deals · $14,000 · as of 10 Jun 2026 (Europe/Berlin)" in text


def test_a_column_whose_deals_have_no_value_says_so_rather_than_zero(
    signed_in, pipeline, now
):
    make_deal(pipeline, "inquiry", value=None)

    text = text_of(signed_in.get(reverse("board")))

    assert "Inquiry received 1 · no values · 100% of open deals" in text
    assert "1 open deal · no values · as of" in text


def test_the_summary_names_the_as_of_date_of_a_historical_demo(
    signed_in, pipeline, settings
):
    settings.AS_OF = "2017-12-31"

    assert "as of 31 Dec 2017" in text_of(signed_in.get(reverse("board")))


def test_board_and_insights_read_a_date_only_as_of_as_that_day_in_the_pipelines_zone(
    signed_in, pipeline, settings
):
    # The end of 31 Dec in UTC is 1 Jan in Berlin: the day ends in Berlin.
    settings.AS_OF = "2017-12-31"

    board = text_of(signed_in.get(reverse("board")))
    insights = text_of(signed_in.get(reverse("insights:overview")))

    assert "as of 31 Dec 2017 (Europe/Berlin)" in board
    assert "as of 31 Dec 2017" in insights


@pytest.mark.parametrize(
    ("entered", "shown"),
    [
        # 23:30 UTC on 5 Jun is 01:30 on 6 Jun in Berlin.
        (dt.datetime(2026, 6, 5, 23, 30, tzinfo=dt.UTC), "since 6 Jun 2026"),
        (dt.datetime(2026, 6, 5, 21, 30, tzinfo=dt.UTC), "since 5 Jun 2026"),
    ],
)
def test_a_cards_stage_entry_date_is_that_day_in_the_pipelines_zone_named(
    signed_in, pipeline, now, entered, shown
):
    deal = make_deal(pipeline, "review", title="Backup")
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=entered)

    board = signed_in.get(reverse("board")).content.decode()
    column = signed_in.get(
        reverse("board-column"), {"stage": "review"}
    ).content.decode()

    assert f"in this stage {shown} (Europe/Berlin)" in board
    assert f"in this stage {shown} (Europe/Berlin)" in column
    assert "dates in Europe/Berlin" in column


def test_a_card_shows_title_organization_owner_value_and_time_in_stage(
    signed_in, pipeline, bob, now
):
    make_deal(
        pipeline,
        "proposal",
        title="Server refresh",
        organization="Acme GmbH",
        owner=bob,
        value=48000,
        days_in_stage=4.5,
    )

    text = text_of(signed_in.get(reverse("board")))

    # Sat 6 Jun 02:00 to Wed 10 Jun 14:00 in Berlin: 8 + 8 + 5 working hours.
    assert "Server refresh Acme GmbH Bob Rep $48,000 2.6 of 10 business days" in text
    assert "at risk" not in text


def test_a_card_shows_its_deals_exact_amount_and_totals_mark_their_rounding(
    signed_in, pipeline, now
):
    make_deal(pipeline, "review", title="Backup", value=Decimal("3000.50"))
    make_deal(pipeline, "review", title="Licences", value=Decimal("1999.25"))

    response = signed_in.get(reverse("board"))
    text = text_of(response)

    assert "Backup no organization no owner $3,000.50" in text
    assert "Licences no organization no owner $1,999.25" in text
    assert "Proposal reviewed by the buyer 2 · ≈$5,000 · 100% of open deals" in text
    assert "2 open deals · ≈$5,000 · as of" in text
    assert '<span class="total" title="$4,999.75">≈$5,000</span>' in (
        response.content.decode()
    )


def test_a_deal_over_its_stage_age_limit_is_marked_at_risk_in_words(
    signed_in, pipeline, now
):
    make_deal(pipeline, "discovery", title="Stuck", days_in_stage=9)

    text = text_of(signed_in.get(reverse("board")))

    # Mon 1 Jun 14:00 to Wed 10 Jun 14:00 in Berlin: seven working days.
    assert (
        "Stuck no organization no owner $1,000 7 of 5 business days, "
        "2 over the limit at risk"
    ) in text


def test_a_deal_with_an_unknown_entry_date_says_so(signed_in, pipeline, now):
    make_deal(pipeline, "inquiry", title="Imported", days_in_stage=None)

    assert "entered: unknown" in text_of(signed_in.get(reverse("board")))


def test_the_owner_filter_shows_only_that_persons_deals(
    signed_in, pipeline, alice, bob, now
):
    make_deal(pipeline, "inquiry", title="Alice's deal", owner=alice)
    make_deal(pipeline, "inquiry", title="Bob's deal", owner=bob)

    page = signed_in.get(reverse("board"), {"owner": "bob"})
    text = text_of(page)

    assert "Bob's deal" in text
    assert "Alice's deal" not in text
    assert "1 open deal owned by Bob Rep" in text
    assert '<option value="bob" selected>' in page.content.decode()


def test_filtering_by_an_unknown_owner_is_a_bad_request_naming_the_field(
    signed_in, pipeline
):
    response = signed_in.get(reverse("board"), {"owner": "<b>nobody</b>"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    # The site's own page, its top bar and all, quoting what was typed as text.
    assert 'class="topbar"' in page and "<b>nobody</b>" not in page
    assert "owner: there is no user '<b>nobody</b>'" in text_of(response)


@pytest.mark.parametrize(
    ("address", "status", "says"),
    [
        ("/?pipeline=nope", 404, "pipeline: no pipeline 'nope'"),
        ("/board/column/?stage=review&owner=nobody", 400, "no user 'nobody'"),
        ("/board/column/?stage=review&after=-1", 400, "after must be"),
        ("/board/column/?stage=review&pipeline=nope", 404, "no pipeline 'nope'"),
    ],
)
def test_every_bad_board_filter_shows_the_site_page_with_its_message(
    signed_in, pipeline, address, status, says
):
    response = signed_in.get(address)

    assert response.status_code == status
    assert 'class="topbar"' in response.content.decode()
    assert says in text_of(response)


def test_a_long_column_says_how_many_more_and_links_to_them(signed_in, pipeline, now):
    for day in range(32):
        make_deal(pipeline, "review", title=f"Deal {day:02}", days_in_stage=day)

    html = signed_in.get(reverse("board")).content.decode()

    assert "and 2 more" in html
    assert 'hx-get="/board/column/?pipeline=new-business&amp;stage=review' in html
    assert urlencode({"after": place_of("Deal 02")}) in html
    assert "offset=" not in html


def test_the_next_cards_come_as_a_fragment_for_htmx(signed_in, pipeline, now):
    for day in range(32):
        make_deal(pipeline, "review", title=f"Deal {day:02}", days_in_stage=day)

    response = signed_in.get(
        reverse("board-column"),
        {"pipeline": "new-business", "stage": "review", "after": place_of("Deal 02")},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html
    assert re.findall(r">(Deal \d\d)<", html) == ["Deal 01", "Deal 00"]
    assert "more" not in text_of(response)


def test_the_next_cards_are_a_whole_page_without_javascript(signed_in, pipeline, now):
    for day in range(35):
        make_deal(pipeline, "review", title=f"Deal {day:02}", days_in_stage=day)

    response = signed_in.get(
        reverse("board-column"),
        {"pipeline": "new-business", "stage": "review", "after": place_of("Deal 33")},
    )
    text = text_of(response)

    assert "<html" in response.content.decode()
    assert "Cards 3 to 32, oldest in stage first" in text
    assert "and 3 more" in text
    assert urlencode({"after": place_of("Deal 03")}) in response.content.decode()


def test_a_card_moved_out_of_the_first_page_hides_none_from_the_next(
    signed_in, pipeline, now
):
    for day in range(32):
        make_deal(pipeline, "review", title=f"Deal {day:02}", days_in_stage=day)
    board = signed_in.get(reverse("board")).content.decode()
    link = re.search(r'hx-get="(/board/column/[^"]*stage=review[^"]*)"', board)
    moved = Deal.objects.get(title="Deal 20")
    moved.stage = pipeline.stages.get(key="proposal")
    moved.save()

    html = signed_in.get(
        link.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}
    ).content.decode()

    assert re.findall(r">(Deal \d\d)<", html) == ["Deal 01", "Deal 00"]


def test_a_column_page_after_a_card_without_an_entry_time_goes_on_by_id(
    signed_in, pipeline, now
):
    for n in range(3):
        make_deal(pipeline, "review", title=f"Undated {n}", days_in_stage=None)
    make_deal(pipeline, "review", title="Dated", days_in_stage=2)

    response = signed_in.get(
        reverse("board-column"),
        {"stage": "review", "after": place_of("Undated 0")},
        headers={"HX-Request": "true"},
    )

    assert re.findall(r">(Undated \d|Dated)<", response.content.decode()) == [
        "Undated 1",
        "Undated 2",
    ]


@pytest.mark.parametrize(
    "after",
    [
        "-1",
        "x",
        ",²",
        "2026-06-01T10:00:00,4",  # no zone: whose time would it be?
        "2026-06-01T10:00:00+00:00,",
        "2026-06-01T10:00:00+00:00,-4",
        "2026-06-01T10:00:00+00:00,99999999999999999999",
        "2026-13-01T10:00:00+00:00,4",
        "0001-01-01T00:00:00+01:00,4",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00,4",  # after year 9999 in UTC
    ],
)
def test_a_column_page_refuses_an_after_that_is_not_a_place(signed_in, pipeline, after):
    response = signed_in.get(
        reverse("board-column"), {"stage": "review", "after": after}
    )

    assert response.status_code == 400
    assert "after must be a place in the column" in text_of(response)


@pytest.mark.parametrize(
    ("after", "shown"),
    [
        ("0001-01-01T00:00:00+00:00,1", ["Deal 01", "Deal 00"]),
        ("9999-12-31T23:59:59+00:00,1", []),
        (",1", []),
    ],
)
def test_a_column_page_after_the_ends_of_time_answers(
    signed_in, pipeline, after, shown
):
    for day in range(2):
        make_deal(pipeline, "review", title=f"Deal {day:02}", days_in_stage=day)

    response = signed_in.get(
        reverse("board-column"), {"stage": "review", "after": after}
    )

    assert response.status_code == 200
    assert re.findall(r">(Deal \d\d)<", response.content.decode()) == shown


def test_a_refused_after_is_quoted_back_as_text_never_as_markup(signed_in, pipeline):
    response = signed_in.get(
        reverse("board-column"),
        {"stage": "review", "after": "<svg onload=alert(1)>"},
    )

    assert response.status_code == 400
    assert "<svg onload" not in response.content.decode()
    assert "'<svg onload=alert(1)>'" in text_of(response)


def test_a_column_page_of_an_unknown_stage_is_not_found(signed_in, pipeline):
    response = signed_in.get(reverse("board-column"), {"stage": "nope"})

    assert response.status_code == 404


def test_a_title_with_markup_is_shown_as_text(signed_in, pipeline, now):
    make_deal(pipeline, "inquiry", title="<script>alert('x')</script>")

    html = signed_in.get(reverse("board")).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_several_pipelines_can_be_chosen_and_the_first_is_the_default(
    signed_in, pipeline, now
):
    renewals = Pipeline.objects.create(key="renewals", name="Renewals")
    Stage.objects.create(pipeline=renewals, key="due", name="Renewal due", position=0)
    make_deal(renewals, "due", title="Yearly licence")

    first = text_of(signed_in.get(reverse("board")))
    chosen = text_of(signed_in.get(reverse("board"), {"pipeline": "renewals"}))

    assert "Inquiry received" in first
    assert "Yearly licence" not in first
    assert "Renewal due 1" in chosen
    assert "Yearly licence" in chosen


def test_an_unknown_pipeline_is_not_found(signed_in, pipeline):
    assert signed_in.get(reverse("board"), {"pipeline": "nope"}).status_code == 404


def test_without_any_pipeline_the_board_says_how_to_make_one(signed_in):
    text = text_of(signed_in.get(reverse("board")))

    assert "No pipeline yet" in text


def test_the_page_offers_log_out_as_a_form_post(signed_in, pipeline):
    html = signed_in.get(reverse("board")).content.decode()

    assert re.search(r'<form method="post" action="/logout/"', html)
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "/static/dealgate/app.css" in html


def test_a_retired_stage_leaves_the_board_unless_it_still_holds_open_deals(
    signed_in, pipeline, now
):
    from dealgate import timesource

    make_deal(pipeline, "proposal", title="Still in proposal")
    Stage.objects.filter(pipeline=pipeline, key__in=["discovery", "proposal"]).update(
        retired_at=timesource.now()
    )

    text = text_of(signed_in.get(reverse("board")))

    assert "Discovery call booked" not in text
    # Its deal has not been moved out yet: the column stays, so it is seen.
    assert "Proposal requested 1" in text and "Still in proposal" in text


@pytest.mark.parametrize(("days", "warned"), [(1, True), (-1, False)])
def test_an_as_of_date_before_the_last_change_is_named_on_the_board(
    signed_in, pipeline, now, days, warned
):
    deal = make_deal(pipeline, "proposal")
    StageEvent.objects.create(
        deal=deal,
        to_stage=deal.stage,
        to_status="open",
        at=now + dt.timedelta(days=days),
    )

    text = text_of(signed_in.get(reverse("board")))

    assert ("The history holds changes after 10 Jun 2026" in text) is warned
