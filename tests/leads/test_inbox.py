"""The leads inbox, the lead page, manual entry and the rules editor."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.leads.models import Lead
from dealgate.leads.rules import rules_digest
from dealgate.leads.services import capture_lead, record_response
from tests.web.helpers import text_of

from .conftest import inquiry

XSS = "<script>alert('x')</script>"


def test_the_inbox_shows_new_assigned_and_answered_with_time_left(
    client, routed, alice, bob, now
):
    routed.settings = {
        "routing": [{"name": "DE", "when": {"country": "DE"}, "to": "user:alice"}]
    }
    routed.save()
    waiting = capture_lead(inquiry(1, country="FR"), source="api").lead
    assigned = capture_lead(inquiry(2), source="api").lead
    answered = capture_lead(inquiry(3), source="api").lead
    with timesource.frozen_at(now + dt.timedelta(minutes=4)):
        record_response(answered.pk, kind="call", by=alice)
    client.force_login(bob)

    with timesource.frozen_at(now + dt.timedelta(minutes=5)):
        text = text_of(client.get("/leads/"))

    assert "New, waiting for an owner (1)" in text
    assert "Assigned, waiting for an answer (2)" not in text
    assert "Assigned, waiting for an answer (1)" in text
    assert "Answered (1)" in text
    assert "10 business minutes left" in text
    assert "answered in 4 business minutes" in text
    assert "unassigned for 5 min" in text
    assert waiting.status == Lead.Status.NEW and assigned.owner == alice


def test_the_inbox_filters_by_owner_and_shows_overdue(client, routed, alice, bob, now):
    capture_lead(inquiry(1), source="api")  # alice
    capture_lead(inquiry(2), source="api")  # bob
    client.force_login(alice)

    with timesource.frozen_at(now + dt.timedelta(minutes=45)):
        text = text_of(client.get("/leads/?owner=bob"))

    assert "Person 2" in text and "Person 1" not in text
    assert "overdue by 30 business minutes" in text
    # An owner who is no one is a bad filter, as on the board.
    assert client.get("/leads/?owner=nobody").status_code == 400


def test_lead_data_is_escaped_on_every_page(client, routed, alice, now):
    lead = capture_lead(
        inquiry(name=XSS, company=XSS, message=XSS, source=XSS), source="api"
    ).lead
    capture_lead(inquiry(name=XSS, message="again"), source="api")
    client.force_login(alice)

    for path in (
        "/leads/",
        f"/leads/{lead.pk}/",
        "/leads/decisions/",
        "/leads/report/",
    ):
        page = client.get(path).content.decode()
        assert "<script>alert" not in page, path
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
        in client.get(f"/leads/{lead.pk}/").content.decode()
    )


@pytest.mark.parametrize(
    "currency, shown",
    [("EUR", "€3,000.50"), (None, "$3,000.50"), ("CHF", "CHF 3,000.50")],
)
def test_the_lead_page_shows_the_exact_value_in_its_currency(
    client, routed, alice, now, currency, shown
):
    lead = capture_lead(inquiry(value="3000.50", currency=currency), source="api").lead
    client.force_login(alice)

    text = text_of(client.get(f"/leads/{lead.pk}/"))

    assert f"Value {shown}" in text


def test_the_lead_page_shows_the_rule_and_why(client, routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)

    text = text_of(client.get(f"/leads/{lead.pk}/"))

    assert (
        'Routing DACH: rule "DACH" (routing[0]): country DE is one of DE, AT, CH'
        in text
    )
    assert "Assignments" in text and "routing" in text


def test_manual_entry_captures_a_lead_or_points_to_the_repeat(
    client, routed, alice, now
):
    client.force_login(alice)

    created = client.post("/leads/new/", {"name": "Walk-in", "phone": "+49 30 9876543"})
    lead = Lead.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/leads/{lead.pk}/"
    assert (lead.channel, lead.created_by) == ("web", alice)

    again = client.post("/leads/new/", {"name": "Walk-in", "phone": "030 9876543"})
    assert again["Location"] == f"/leads/{lead.pk}/"
    assert Lead.objects.count() == 1

    refused = client.post("/leads/new/", {"name": "No way to answer"})
    assert refused.status_code == 422
    assert "Email: a lead needs an email address or a phone number" in text_of(refused)


def test_actions_on_the_lead_page(client, routed, alice, now):
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)

    client.post(f"/leads/{lead.pk}/activity/", {"kind": "call", "outbound": "on"})
    lead.refresh_from_db()
    assert lead.status == Lead.Status.ANSWERED

    refused = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": ""})
    assert refused.status_code == 422
    assert "a disqualified lead needs a reason" in text_of(refused)

    converted = client.post(f"/leads/{lead.pk}/convert/")
    lead.refresh_from_db()
    assert converted["Location"] == f"/deals/{lead.deal_id}/"


def test_only_an_admin_edits_routing_rules(client, routed, olivia, alice):
    client.force_login(alice)
    assert client.get("/leads/routing/").status_code == 403

    client.force_login(olivia)
    page = text_of(client.get("/leads/routing/"))
    assert 'name = "DACH"' in page

    bad = client.post(
        "/leads/routing/",
        {
            "pipeline": "new-business",
            "rules": '[[routing]]\nname = "x"\nto = "user:zed"\n',
            "seen": rules_digest(routed),
        },
    )
    assert bad.status_code == 422
    assert "routing[0].to: no active user 'zed'" in text_of(bad)

    good = client.post(
        "/leads/routing/",
        {
            "pipeline": "new-business",
            "rules": '[[routing]]\nname = "all"\nto = "team:Central"\n'
            'how = "least-loaded"\n',
            "seen": rules_digest(routed),
        },
    )
    assert good.status_code == 302
    routed.refresh_from_db()
    assert routed.settings["routing"] == [
        {"name": "all", "to": "team:Central", "how": "least-loaded"}
    ]


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ("", "this removes all 2 routing rules"),
        ('[[routnig]]\nname = "x"\nto = "user:alice"\n', "found routnig"),
    ],
)
def test_saving_no_rules_by_mistake_is_refused_and_keeps_them(
    client, routed, olivia, rules, says
):
    client.force_login(olivia)

    refused = client.post(
        "/leads/routing/",
        {"pipeline": "new-business", "rules": rules, "seen": rules_digest(routed)},
    )

    assert refused.status_code == 422
    assert says in text_of(refused)
    routed.refresh_from_db()
    assert len(routed.settings["routing"]) == 2


def test_all_rules_are_removed_when_that_is_what_the_admin_ticks(
    client, routed, olivia
):
    client.force_login(olivia)

    done = client.post(
        "/leads/routing/",
        {
            "pipeline": "new-business",
            "rules": "",
            "clear": "yes",
            "seen": rules_digest(routed),
        },
    )

    assert done.status_code == 302
    routed.refresh_from_db()
    assert not routed.settings.get("routing")


def test_the_lead_page_shows_its_times_in_the_pipelines_zone(
    client, routed, alice, now
):
    lead = capture_lead(inquiry(), source="api").lead
    client.force_login(alice)

    text = text_of(client.get(f"/leads/{lead.pk}/"))

    # Received at 12:00 UTC, which is 14:00 in Berlin in June; the window is
    # 15 business minutes.
    assert "Times are in Europe/Berlin." in text
    assert "Received 10 Jun 2026, 14:00" in text
    assert "Assigned 10 Jun 2026, 14:00, answer due 10 Jun 2026, 14:15" in text
