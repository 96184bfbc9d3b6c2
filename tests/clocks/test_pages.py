"""Today and Notices: what runs out, most urgent first, and the unread count."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection, transaction
from django.template import Context, Template
from django.test import RequestFactory

from dealgate.clocks.models import Notice
from dealgate.clocks.notices import notify, unread_count
from dealgate.clocks.queries import today_clocks
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Activity
from tests.conftest import PASSWORD
from tests.web.helpers import text_of

from .conftest import berlin, place_deal


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return sign_in


@pytest.fixture
def workload(windows, alice, bob, max_manager, clock):
    """Alice: a deal over its age limit, an unanswered window, a next step due
    tomorrow. Bob: a window running out soon."""
    over = place_deal(
        windows,
        "inquiry",
        owner=alice,
        entered=berlin(4, 9),
        title="Old one",
        source="lead",
    )
    late = place_deal(
        windows,
        "inquiry",
        owner=alice,
        entered=berlin(10, 13),
        title="Late answer",
        source="web",
    )
    Activity.objects.create(
        deal=late,
        kind="task",
        subject="Send the agenda",
        due_at=berlin(11, 10),
        at=clock.now,
    )
    place_deal(
        windows, "inquiry", owner=bob, entered=berlin(10, 13, 50), title="Bob's inquiry"
    )
    sweep()
    return over, late


def test_today_lists_a_persons_windows_limits_and_next_steps_most_urgent_first(
    workload, alice, signed_in
):
    page = text_of(signed_in(alice).get("/today/"))

    windows = page.index("Response windows")
    limits = page.index("Deals past their age limit")
    steps = page.index("Next steps due")
    assert "Late answer" in page[windows:limits]
    assert "no answer, 45 business minutes over the window" in page[windows:limits]
    assert "Wed 10 Jun, 13:15 Europe/Berlin" in page[windows:limits]
    assert "Old one" in page[limits:steps]
    assert "2 business days over the limit" in page[limits:steps]  # 21 hours
    assert "Send the agenda" in page[steps:]
    assert "next step due within 4 business hours" in page[steps:]
    assert "Bob's inquiry" not in page


def test_a_manager_sees_the_teams_obligations_and_who_holds_them(
    workload, max_manager, signed_in
):
    client = signed_in(max_manager)
    page = text_of(client.get("/today/"))

    assert "Bob's inquiry" in page
    assert "answer within 5 business minutes" in page
    assert "Alice Rep" in page and "Bob Rep" in page
    assert page.index("Late answer") < page.index("Bob's inquiry")  # overdue first

    only_bob = text_of(client.get("/today/?person=bob"))
    assert "Late answer" not in only_bob and "Bob's inquiry" in only_bob


def test_the_owner_sees_everyones_obligations_without_being_in_a_team(
    workload, olivia, signed_in
):
    page = text_of(signed_in(olivia).get("/today/"))

    assert "Late answer" in page and "Bob's inquiry" in page


def test_a_rep_cannot_look_at_a_colleagues_today(workload, alice, signed_in):
    assert signed_in(alice).get("/today/?person=bob").status_code == 404


def test_the_notices_page_counts_unread_and_marks_them_read(workload, alice, signed_in):
    notify(alice, kind="info", title="Welcome back")
    client = signed_in(alice)
    unread = unread_count(alice)
    assert unread == 2  # the welcome, and one digest of the limit and the window

    html = client.get("/notices/").content.decode()
    page = text_of(client.get("/notices/"))
    assert f"{unread} unread" in page
    assert "Over the age limit: Old one" in page
    over, late = workload
    assert "Wed 10 Jun, 12:00 UTC" in page  # the zone said, as Today says its
    assert f'<a href="/deals/{over.pk}/">Over the age limit: Old one</a>' in html
    assert f'<a href="/deals/{late.pk}/">No response yet: Late answer</a>' in html

    one = Notice.objects.filter(user=alice).first()
    client.post("/notices/read/", {"notice": one.pk})
    assert unread_count(alice) == unread - 1
    client.post("/notices/read/")
    assert unread_count(alice) == 0
    assert "0 unread" in text_of(client.get("/notices/"))


def test_marking_another_persons_notice_read_changes_nothing(
    alice, bob, signed_in, clock
):
    theirs = notify(bob, kind="info", title="For Bob")

    signed_in(alice).post("/notices/read/", {"notice": theirs.pk})

    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_pages_need_a_signed_in_person(client, db):
    assert client.get("/today/").status_code == 302
    assert client.get("/notices/").status_code == 302


def test_the_nav_tag_shows_the_unread_count(alice, clock):
    notify(alice, kind="info", title="Hello")
    request = RequestFactory().get("/")
    request.user = alice

    html = Template("{% load clocks %}{% clocks_nav %}").render(
        Context({"request": request})
    )

    assert re.search(r"Notices\s*<span[^>]*>\(1\)</span>", html)
    assert 'href="/today/"' in html


def test_the_deal_tag_says_what_is_running_out(windows, alice, clock):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 13, 50))

    html = Template("{% load clocks %}{% deal_deadlines deal %}").render(
        Context({"deal": deal})
    )

    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Response window answer within 5 business minutes Alice Rep" in text
    assert "Stage age limit 1 business day left in this stage" in text


def test_a_task_due_on_a_closed_day_says_so_on_today_and_the_deal_page(
    windows, alice, clock, signed_in
):
    clock.to(berlin(12, 18))  # Friday evening; the task is due on Saturday
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(12, 10))
    Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Weekend call",
        due_at=berlin(13, 12),
        at=clock.now,
    )
    sweep()
    said = "next step due before business hours resume"

    today = text_of(signed_in(alice).get("/today/"))
    deal_page = text_of(signed_in(alice).get(f"/deals/{deal.pk}/"))

    assert said in today and said in deal_page
    assert "1 business minute" not in today + deal_page


def test_todays_clocks_are_read_through_the_index_of_each_persons_clocks(
    workload, alice, clock
):
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Tables this small are cheaper to scan: ask for the index path.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        plan = today_clocks([alice], clock.now).explain()

    assert "clock_responsible_due" in plan


def test_today_keeps_a_breached_clock_when_the_time_is_moved_back(
    workload, alice, clock
):
    over, _ = workload
    clock.to(berlin(1, 9))  # a week before the sweep that breached it

    assert over.pk in {c.deal_id for c in today_clocks([alice], clock.now)}


def test_a_digest_on_the_notices_page_lists_fifty_and_sends_the_rest_to_today(
    alice, signed_in, clock
):
    notice = notify(alice, kind=Notice.Kind.BREACH, title="30252 deals ran out")
    notice.items = [
        {"clock": n, "title": f"Over the age limit: D{n:05}", "url": f"/deals/{n}/"}
        for n in range(30_252)
    ]
    notice.save()

    response = signed_in(alice).get("/notices/")
    page = text_of(response)

    assert "D00000" in page and "D00049" in page and "D00050" not in page
    assert "and 30,202 more, all on Today" in page
    assert '<a href="/today/">Today</a></li>' in response.content.decode()
    assert len(response.content) < 30_000


def test_a_digest_that_counts_its_rest_shows_what_it_keeps_and_the_count(
    alice, signed_in, clock
):
    notice = notify(alice, kind=Notice.Kind.BREACH, title="30252 deals ran out")
    notice.items = [
        {"clock": n, "title": f"Over the age limit: D{n:05}", "url": f"/deals/{n}/"}
        for n in range(50)
    ]
    notice.more_items = 30_202
    notice.save()

    page = text_of(signed_in(alice).get("/notices/"))

    assert "D00000" in page and "D00049" in page
    assert "and 30,202 more, all on Today" in page


def _notice(user, title, at):
    return Notice.objects.create(
        user=user, kind=Notice.Kind.BREACH, title=title, created_at=at
    )


def test_older_notices_follow_the_last_one_shown_when_one_arrives_meanwhile(
    alice, signed_in
):
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    for n in range(52):
        _notice(alice, f"Notice {n:02}", start + dt.timedelta(minutes=n))
    client = signed_in(alice)
    first = client.get("/notices/").content.decode()
    link = re.search(r'<a href="(\?[^"]*)">Older notices</a>', first)
    _notice(alice, "Notice 52", start + dt.timedelta(minutes=52))

    older = client.get("/notices/" + link.group(1).replace("&amp;", "&"))

    assert re.findall(r">(Notice \d\d)<", older.content.decode()) == [
        "Notice 01",
        "Notice 00",
    ]
    assert "Older notices" not in text_of(older)


@pytest.mark.parametrize(
    "after",
    [
        "x",
        "2026-06-01T09:00:00,4",  # no zone
        "2026-06-01T09:00:00+00:00,x",
        ",4",
        "0001-01-01T00:00:00+01:00,4",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00,4",  # after year 9999 in UTC
        "<b>,4",
    ],
)
def test_older_notices_refuse_an_after_that_is_not_a_place(alice, signed_in, after):
    response = signed_in(alice).get("/notices/", {"after": after})

    assert response.status_code == 400
    assert "after must be a place in the notices" in text_of(response)
    assert "<b>" not in response.content.decode()


@pytest.mark.parametrize(
    "after", ["0001-01-01T00:00:00+00:00,1", "9999-12-31T23:59:59+00:00,1"]
)
def test_older_notices_at_the_ends_of_time_answer(alice, signed_in, after):
    _notice(alice, "Only one", dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))

    response = signed_in(alice).get("/notices/", {"after": after})

    assert response.status_code == 200
    assert ("Only one" in text_of(response)) == after.startswith("9999")
