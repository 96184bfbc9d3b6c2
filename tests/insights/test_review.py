"""The weekly one-metric review: rotation, the nine-week series, the deals
behind the value, and decisions kept with the value they were based on."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from dealgate import timesource
from dealgate.errors import Conflict, PermissionDenied, ValidationError
from dealgate.insights import reports, services
from dealgate.insights import review as rv
from dealgate.insights.models import WeeklyReview
from dealgate.insights.services import record_review
from tests.conftest import NOW
from tests.web.helpers import text_of

from .conftest import filters_for, move, open_deal

pytestmark = pytest.mark.django_db

THIS_WEEK = dt.date(2026, 6, 8)  # NOW is Wednesday 10 June 2026
BERLIN_MONDAY = dt.datetime(2026, 6, 7, 22, 0, tzinfo=dt.UTC)  # 8 June, 00:00


@pytest.fixture
def manager_in(client, max_manager):
    client.force_login(max_manager)
    return client


def closed(pipeline, status: str, at: dt.datetime, **fields):
    deal = open_deal(pipeline, "inquiry", at - dt.timedelta(days=5), **fields)
    return move(deal, status, at)


def test_without_reviews_the_first_metric_is_proposed(pipeline):
    metric, how = rv.chosen_metric(filters_for(pipeline).facts, THIS_WEEK)

    assert (metric.key, how) == ("win_rate", "rotated")


def test_the_next_week_rotates_to_the_metric_after_the_last_review(
    pipeline, max_manager
):
    filters = filters_for(pipeline)
    record_review(
        filters, week=THIS_WEEK, metric="win_rate", decision="Call back", by=max_manager
    )

    this_week = rv.chosen_metric(filters.facts, THIS_WEEK)
    next_week = rv.chosen_metric(filters.facts, THIS_WEEK + dt.timedelta(weeks=1))

    assert (this_week[0].key, this_week[1]) == ("win_rate", "recorded")
    assert (next_week[0].key, next_week[1]) == ("won_value", "rotated")


def test_the_team_may_choose_another_metric(pipeline):
    metric, how = rv.chosen_metric(filters_for(pipeline).facts, THIS_WEEK, "new_deals")

    assert (metric.key, how) == ("new_deals", "chosen")


def test_an_unknown_metric_is_refused_by_name(pipeline):
    with pytest.raises(ValidationError, match="metric must be one of"):
        rv.chosen_metric(filters_for(pipeline).facts, THIS_WEEK, "vibes")


def test_the_series_is_nine_weeks_placed_by_local_week_boundaries(pipeline):
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(minutes=30))
    closed(pipeline, "lost", BERLIN_MONDAY - dt.timedelta(minutes=30))
    closed(pipeline, "won", BERLIN_MONDAY - dt.timedelta(weeks=8, hours=-1))

    series = rv.weekly_series(filters_for(pipeline), rv.BY_KEY["win_rate"], THIS_WEEK)

    assert [week.week for week in series][::4] == [
        dt.date(2026, 4, 13),
        dt.date(2026, 5, 11),
        THIS_WEEK,
    ]
    assert (series[-1].value, series[-1].count) == (1.0, 1)
    assert (series[-2].value, series[-2].count) == (0.0, 1)
    assert series[0].value == 1.0
    assert (series[3].value, series[3].count) == (None, 0)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("won_value", 3000.0),
        ("lost_deals", 1.0),
        ("new_deals", 0.0),
        ("median_cycle", 5.0),
        ("lead_response", None),
    ],
)
def test_each_metric_has_a_value_for_the_week(pipeline, metric, expected):
    at = BERLIN_MONDAY + dt.timedelta(days=1)
    closed(pipeline, "won", at, value=1000)
    closed(pipeline, "won", at, value=2000)
    closed(pipeline, "lost", at)

    series = rv.weekly_series(filters_for(pipeline), rv.BY_KEY[metric], THIS_WEEK)

    assert series[-1].value == (pytest.approx(expected) if expected else expected)


def test_moving_an_undated_deal_is_not_a_new_deal_of_the_week(pipeline):
    undated = open_deal(pipeline, "inquiry", BERLIN_MONDAY, record_entry=False)
    move(undated, "discovery", BERLIN_MONDAY + dt.timedelta(hours=2))
    open_deal(pipeline, "inquiry", BERLIN_MONDAY - dt.timedelta(weeks=2))
    moved = open_deal(pipeline, "inquiry", BERLIN_MONDAY - dt.timedelta(weeks=1))
    move(moved, "discovery", BERLIN_MONDAY + dt.timedelta(hours=3))
    filters = filters_for(pipeline)

    series = rv.weekly_series(filters, rv.BY_KEY["new_deals"], THIS_WEEK)
    deals, total = rv.deals_behind(filters, rv.BY_KEY["new_deals"], THIS_WEEK)

    assert [week.count for week in series][-3:] == [1, 1, 0]
    assert (list(deals), total) == ([], 0)


def test_the_deals_behind_the_value_are_those_of_the_week(pipeline):
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=1), title="this week")
    closed(pipeline, "lost", BERLIN_MONDAY - dt.timedelta(hours=1), title="last week")

    deals, total = rv.deals_behind(
        filters_for(pipeline), rv.BY_KEY["win_rate"], THIS_WEEK
    )

    assert [deal.title for deal in deals] == ["this week"]
    assert total == 1


def test_a_decision_keeps_the_value_it_was_based_on(pipeline, max_manager):
    filters = filters_for(pipeline)
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=1))
    with timesource.frozen_at(NOW):
        review = record_review(
            filters,
            week=THIS_WEEK,
            metric="win_rate",
            decision=" Keep it up ",
            by=max_manager,
        )
    closed(pipeline, "lost", BERLIN_MONDAY + dt.timedelta(hours=2))

    review.refresh_from_db()
    assert (review.value, review.decision, review.week) == (
        1.0,
        "Keep it up",
        THIS_WEEK,
    )
    assert review.recorded_at == NOW


def test_writing_again_the_same_week_replaces_the_decision(pipeline, max_manager):
    filters = filters_for(pipeline)
    record_review(
        filters, week=THIS_WEEK, metric="win_rate", decision="A", by=max_manager
    )
    record_review(
        filters,
        week=THIS_WEEK + dt.timedelta(days=2),
        metric="new_deals",
        decision="B",
        by=max_manager,
    )

    assert list(WeeklyReview.objects.values_list("metric", "decision")) == [
        ("new_deals", "B")
    ]


def test_an_empty_decision_is_refused(pipeline, max_manager):
    with pytest.raises(ValidationError) as refused:
        record_review(
            filters_for(pipeline),
            week=THIS_WEEK,
            metric="",
            decision="  ",
            by=max_manager,
        )
    assert refused.value.field == "decision"


def test_the_review_page_shows_the_chart_the_deals_and_the_form(
    manager_in, pipeline, now
):
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=1), title="Big one")

    response = manager_in.get(reverse("insights:review"))
    text = text_of(response)

    assert response.status_code == 200
    assert "Dealgate picked Win rate , next in the rotation" in text
    assert "<svg" in response.content.decode()
    assert "Week starting (Monday)" in response.content.decode()
    assert "Big one" in text
    assert 'name="decision"' in response.content.decode()


def test_posting_a_decision_keeps_it_and_lists_it_among_past_reviews(
    manager_in, pipeline, now
):
    response = manager_in.post(
        reverse("insights:review"),
        {
            "pipeline": pipeline.key,
            "week": THIS_WEEK.isoformat(),
            "metric": "lost_deals",
            "decision": "Review every loss on Friday",
        },
        follow=True,
    )
    text = text_of(response)

    assert response.redirect_chain[0][1] == 302
    assert "this week's review looked at Deals lost" in text
    assert "Past reviews" in text
    assert "Review every loss on Friday" in text
    assert WeeklyReview.objects.get().recorded_by.username == "max"


def test_posting_an_empty_decision_shows_the_page_again_with_the_reason(
    manager_in, pipeline, now
):
    response = manager_in.post(
        reverse("insights:review"),
        {"pipeline": pipeline.key, "week": THIS_WEEK.isoformat(), "decision": ""},
    )

    assert response.status_code == 422
    assert "write the decision the team took" in text_of(response)
    assert not WeeklyReview.objects.exists()


def test_a_past_week_can_be_looked_at(signed_in, pipeline, now):
    response = signed_in.get(
        reverse("insights:review"), {"week": "2026-05-20", "metric": "new_deals"}
    )

    assert response.status_code == 200
    assert "Week starting Monday 18 May 2026" in text_of(response)


def test_the_review_report_tables_download_as_csv(signed_in, pipeline, now):
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=1))

    response = signed_in.get(
        reverse("insights:review"), {"format": "csv", "table": "series"}
    )
    lines = response.content.decode().splitlines()

    assert response["Content-Type"].startswith("text/csv")
    assert lines[0] == "Week starting,Win rate (%),Deals closed"
    assert lines[-1] == "2026-06-08,100.0,1"
    assert len(lines) == 10


def test_the_behind_download_holds_every_deal_not_only_those_shown(
    signed_in, pipeline, now, monkeypatch
):
    monkeypatch.setattr(rv, "BEHIND_LIMIT", 2)
    for hour in range(1, 4):
        closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=hour))

    page = signed_in.get(reverse("insights:review"))
    download = signed_in.get(
        reverse("insights:review"), {"format": "csv", "table": "behind"}
    )

    assert "3 in all; the latest 2 shown here" in text_of(page)
    assert len(download.content.decode().splitlines()) == 1 + 3


def test_the_weekly_review_report_names_the_week(pipeline):
    page = reports.weekly_review(filters_for(pipeline), NOW)

    assert page.week == THIS_WEEK
    assert page.report.text().splitlines()[1] == (
        "Week starting Monday 8 June 2026 (this week, so far): 2026-06-08 to 2026-06-14"
    )
    assert page.report.table("history").empty == "No review has been written yet."


@pytest.mark.parametrize("who", ["max_manager", "olivia"])
def test_a_manager_or_an_admin_writes_the_decision(pipeline, request, who):
    person = request.getfixturevalue(who)

    review = record_review(
        filters_for(pipeline), week=THIS_WEEK, metric="", decision="Go", by=person
    )

    assert review.recorded_by == person


def test_a_rep_may_not_write_the_decision(pipeline, alice):
    with pytest.raises(PermissionDenied, match="only a manager or an admin"):
        record_review(
            filters_for(pipeline), week=THIS_WEEK, metric="", decision="Go", by=alice
        )

    assert not WeeklyReview.objects.exists()


def test_a_reps_post_is_refused_with_403_and_leaves_the_decision_alone(
    signed_in, pipeline, max_manager, now
):
    record_review(
        filters_for(pipeline),
        week=THIS_WEEK,
        metric="win_rate",
        decision="The team's",
        by=max_manager,
    )

    response = signed_in.post(
        reverse("insights:review"),
        {"pipeline": pipeline.key, "week": THIS_WEEK.isoformat(), "decision": "Mine"},
    )

    assert response.status_code == 403
    assert "only a manager or an admin writes the weekly review's decision" in (
        text_of(response)
    )
    assert WeeklyReview.objects.get().decision == "The team's"


def test_a_rep_reads_the_decision_without_a_form_to_change_it(
    signed_in, pipeline, max_manager, now
):
    record_review(
        filters_for(pipeline), week=THIS_WEEK, metric="", decision="Go", by=max_manager
    )

    response = signed_in.get(reverse("insights:review"))

    assert "Go" in text_of(response)
    assert "The decision is written by a manager or an admin." in text_of(response)
    assert 'name="decision"' not in response.content.decode()


def test_a_week_that_has_not_started_is_refused_naming_the_week(
    pipeline, max_manager, now
):
    with pytest.raises(ValidationError) as refused:
        record_review(
            filters_for(pipeline),
            week=THIS_WEEK + dt.timedelta(weeks=1),
            metric="",
            decision="Plan ahead",
            by=max_manager,
        )

    assert refused.value.field == "week"
    assert "the week of 15 June 2026 has not started yet" in refused.value.message
    assert not WeeklyReview.objects.exists()


def test_posting_for_a_far_future_week_shows_why_and_writes_nothing(
    manager_in, pipeline, now
):
    response = manager_in.post(
        reverse("insights:review"),
        {"pipeline": pipeline.key, "week": "2030-01-07", "decision": "Later"},
    )

    assert response.status_code == 422
    assert "the week of 7 January 2030 has not started yet" in text_of(response)
    assert not WeeklyReview.objects.exists()


def test_a_future_weeks_page_offers_no_form(manager_in, pipeline, now):
    response = manager_in.get(reverse("insights:review"), {"week": "2030-01-07"})

    assert response.status_code == 200
    assert "This week has not started yet" in text_of(response)
    assert 'name="decision"' not in response.content.decode()


def test_a_decision_of_only_invisible_characters_is_empty(pipeline, max_manager):
    with pytest.raises(ValidationError) as refused:
        record_review(
            filters_for(pipeline),
            week=THIS_WEEK,
            metric="",
            decision="\u200b\u200b \n",
            by=max_manager,
        )

    assert refused.value.field == "decision"


def test_past_reviews_show_a_win_rate_in_percent_as_the_series_does(
    pipeline, max_manager
):
    filters = filters_for(pipeline)
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(hours=1))
    for hours in (2, 3, 4, 5):
        closed(pipeline, "lost", BERLIN_MONDAY + dt.timedelta(hours=hours))
    with timesource.frozen_at(NOW):
        record_review(
            filters, week=THIS_WEEK, metric="win_rate", decision="Cut", by=max_manager
        )

    page = reports.weekly_review(filters_for(pipeline), NOW, metric="win_rate")
    history = page.report.table("history")

    # One won of five closed: 20 % of closed deals, as the week's series says.
    assert history.rows[0][2:4] == [20.0, "% of closed deals"]


def _shown_seen(page) -> str:
    """The `seen` the review page's decision form posts back."""
    return page.content.decode().split('name="seen" value="')[1].split('"')[0]


def _post_decision(client, pipeline, decision: str, seen: str):
    return client.post(
        reverse("insights:review"),
        {
            "pipeline": pipeline.key,
            "week": THIS_WEEK.isoformat(),
            "metric": "lost_deals",
            "decision": decision,
            "seen": seen,
        },
    )


def test_two_managers_writing_one_week_at_once_are_told_not_overwritten(
    manager_in, pipeline, max_manager, now
):
    # Both opened the page while the week had no decision.
    first = _post_decision(manager_in, pipeline, "Call every lost deal", "")
    second = _post_decision(manager_in, pipeline, "Raise the prices", "")

    assert first.status_code == 302
    assert second.status_code == 409
    assert "was written since you opened it" in text_of(second)
    assert "Call every lost deal" in text_of(second)
    assert WeeklyReview.objects.get().decision == "Call every lost deal"


def _typed_decision(page) -> str:
    """What the review page's decision box holds."""
    html = page.content.decode()
    return html.split('name="decision"')[1].split(">", 1)[1].split("</textarea>")[0]


def test_a_decision_refused_as_written_meanwhile_comes_back_as_typed(
    client, pipeline, olivia, max_manager, now
):
    # The owner and her manager, each in their own tab, with no decision yet.
    client.force_login(max_manager)
    _post_decision(client, pipeline, "Coach the reps on first replies", "")
    client.force_login(olivia)

    refused = _post_decision(client, pipeline, "Raise prices for managed services", "")

    assert refused.status_code == 409
    assert _typed_decision(refused) == "Raise prices for managed services"
    above_the_form = text_of(refused).split("Your decision, as you wrote it")[0]
    assert "Coach the reps on first replies" in above_the_form
    assert WeeklyReview.objects.get().decision == "Coach the reps on first replies"


def test_a_decision_sent_again_after_reading_the_one_written_meanwhile_replaces_it(
    manager_in, pipeline, now
):
    _post_decision(manager_in, pipeline, "Call every lost deal", "")
    refused = _post_decision(manager_in, pipeline, "Raise the prices", "")

    again = _post_decision(
        manager_in, pipeline, _typed_decision(refused), _shown_seen(refused)
    )

    assert again.status_code == 302
    assert WeeklyReview.objects.get().decision == "Raise the prices"


def test_a_decision_refused_as_too_long_comes_back_as_typed_with_the_version_seen(
    manager_in, pipeline, now
):
    _post_decision(manager_in, pipeline, "Call every lost deal", "")
    too_long = "Raise the prices. " * 300

    refused = _post_decision(manager_in, pipeline, too_long, "")

    assert refused.status_code == 422
    assert _typed_decision(refused) == too_long
    # Still the version the writer saw: the decision written meanwhile is
    # still caught when the shortened one is sent.
    assert _shown_seen(refused) == ""


def test_a_manager_who_saw_the_decision_rewrites_it(
    manager_in, pipeline, max_manager, now
):
    _post_decision(manager_in, pipeline, "Call every lost deal", "")
    seen = manager_in.get(reverse("insights:review"), {"week": THIS_WEEK.isoformat()})
    shown = _shown_seen(seen)

    again = _post_decision(manager_in, pipeline, "Call them within a day", shown)

    assert again.status_code == 302
    assert WeeklyReview.objects.get().decision == "Call them within a day"


def test_the_service_refuses_a_decision_written_since_the_one_seen(
    pipeline, max_manager
):
    filters = filters_for(pipeline)
    with timesource.frozen_at(NOW):
        first = record_review(
            filters, week=THIS_WEEK, metric="", decision="A", by=max_manager
        )
    with pytest.raises(Conflict), timesource.frozen_at(NOW + dt.timedelta(hours=1)):
        record_review(
            filters,
            week=THIS_WEEK,
            metric="",
            decision="B",
            by=max_manager,
            replacing=first.version - 1,
        )
    assert WeeklyReview.objects.get().decision == "A"


def test_every_write_counts_the_version_up_under_one_fixed_instant(
    pipeline, max_manager, now
):
    filters = filters_for(pipeline)
    first = record_review(
        filters, week=THIS_WEEK, metric="", decision="A", by=max_manager
    )
    second = record_review(
        filters,
        week=THIS_WEEK,
        metric="",
        decision="B",
        by=max_manager,
        replacing=first.version,
    )

    assert (first.version, second.version) == (1, 2)
    assert first.recorded_at == second.recorded_at == NOW
    with pytest.raises(Conflict, match="written since you opened it"):
        record_review(
            filters,
            week=THIS_WEEK,
            metric="",
            decision="C",
            by=max_manager,
            replacing=first.version,
        )
    assert WeeklyReview.objects.get().decision == "B"


def test_a_second_manager_on_a_page_loaded_before_a_write_is_refused_under_as_of(
    client, pipeline, max_manager, django_user_model, settings
):
    # DEALGATE_AS_OF: every write is stamped with this one instant.
    settings.AS_OF = NOW.isoformat()
    record_review(
        filters_for(pipeline), week=THIS_WEEK, metric="", decision="Go", by=None
    )
    nina = django_user_model.objects.create_user(
        username="nina", password="x", role="manager"
    )
    other = Client()
    other.force_login(nina)
    client.force_login(max_manager)
    pages = [
        one.get(reverse("insights:review"), {"week": THIS_WEEK.isoformat()})
        for one in (client, other)
    ]
    seen = [_shown_seen(page) for page in pages]

    first = _post_decision(client, pipeline, "Call every lost deal", seen[0])
    second = _post_decision(other, pipeline, "Raise the prices", seen[1])

    assert seen == ["1", "1"]
    assert (first.status_code, second.status_code) == (302, 409)
    assert "Call every lost deal" in text_of(second)
    assert WeeklyReview.objects.get().decision == "Call every lost deal"


def test_a_rewrite_of_a_version_replaced_meanwhile_writes_nothing(
    pipeline, max_manager, now
):
    # What SQLite, which locks no row for select_for_update, relies on: two
    # writers read version 1; the first writes version 2; the second's
    # UPDATE must then match no row.
    filters = filters_for(pipeline)
    read = record_review(
        filters, week=THIS_WEEK, metric="", decision="A", by=max_manager
    )
    WeeklyReview.objects.filter(pk=read.pk).update(decision="B", version=2)

    with pytest.raises(Conflict, match="'B'"):
        services._rewrite(read, {"decision": "C"})
    assert WeeklyReview.objects.values_list("decision", "version").get() == ("B", 2)


def test_a_form_that_posts_a_time_as_seen_is_refused_naming_seen(
    manager_in, pipeline, now
):
    _post_decision(manager_in, pipeline, "Call every lost deal", "")

    stale = _post_decision(manager_in, pipeline, "Raise the prices", NOW.isoformat())

    assert stale.status_code == 422
    assert "seen must be the version of the decision" in text_of(stale)
    assert WeeklyReview.objects.get().decision == "Call every lost deal"


def test_the_leads_behind_the_value_carry_local_times_with_the_zone_marked(
    pipeline, alice
):
    from .test_leaks_and_responses import lead

    lead(pipeline, alice, 3, assigned=BERLIN_MONDAY + dt.timedelta(minutes=30))

    page = reports.weekly_review(filters_for(pipeline), NOW, metric="lead_response")
    behind = page.report.table("behind")

    # 22:30 UTC on Sunday is half past midnight on Monday in Berlin.
    assert behind.rows[0][2] == "2026-06-08 00:30 CEST"


def test_the_deals_behind_the_value_say_in_which_zone_their_close_date_is(pipeline):
    closed(pipeline, "won", BERLIN_MONDAY + dt.timedelta(minutes=30))

    page = reports.weekly_review(filters_for(pipeline), NOW, metric="win_rate")
    behind = page.report.table("behind")

    assert behind.columns[-1].header == "Closed (date in Europe/Berlin)"
    assert behind.rows[0][-1] == "2026-06-08"


def test_a_decision_written_just_after_local_midnight_shows_the_local_day(
    manager_in, pipeline, max_manager
):
    with timesource.frozen_at(BERLIN_MONDAY + dt.timedelta(minutes=30)):
        record_review(
            filters_for(pipeline), week=THIS_WEEK, metric="", decision="Go", by=None
        )
        page = manager_in.get(reverse("insights:review"))

    assert "on 8 Jun 2026, looking at" in text_of(page)


@pytest.mark.parametrize("metric", rv.metric_keys())
def test_every_column_of_the_weekly_series_has_its_own_heading(pipeline, metric):
    page = reports.weekly_review(filters_for(pipeline, metric=metric), NOW)

    headings = page.report.table("series").headers()

    assert len(set(headings)) == len(headings), headings
