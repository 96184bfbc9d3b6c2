"""A follow-up (a second inquiry attached to an open lead or deal) reaches the
owner by mail and webhook, as any notice does; it leaves an unanswered lead's
window alone (the buyer has waited since the first inquiry) and gives an
answered lead or an open deal a task to answer it, with its next-step clock.

Mail and webhook go to real receivers on 127.0.0.1 (tests/clocks/receivers.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.outbox import deliver_all_due
from dealgate.deals.models import Activity
from dealgate.leads.dedup import UNCHECKED
from dealgate.leads.models import LeadActivity, LeadNotice
from dealgate.leads.services import capture_lead, convert_lead, record_response
from tests.clocks.test_outbox import Receiver, point_settings_at
from tests.conftest import NOW

from .conftest import inquiry

CHASER = "Still waiting, please call"


@pytest.fixture
def mailed(tmp_path, settings, alice) -> Iterator[tuple[Receiver, Receiver]]:
    """An SMTP sink and a webhook receiver, with the settings pointing at
    them; alice has a mail address."""
    alice.email = "alice@example.com"
    alice.save()
    smtp = Receiver("smtp", tmp_path / "smtp.log").start()
    hook = Receiver("http", tmp_path / "hook.log").start()
    point_settings_at(settings, smtp, hook)
    try:
        yield smtp, hook
    finally:
        smtp.kill()
        hook.kill()


def follow_up(**fields) -> None:
    capture_lead(inquiry(message=CHASER, **fields), source="form")


def test_a_follow_up_on_an_unanswered_lead_is_mailed_and_keeps_its_window(
    routed, alice, mailed, now
):
    smtp, hook = mailed
    lead = capture_lead(inquiry(), source="form").lead  # alice's, due 14:15
    with timesource.frozen_at(NOW + dt.timedelta(minutes=10)):
        follow_up()
        sent = deliver_all_due(now=NOW + dt.timedelta(minutes=10))

    assert sent.attempted == 2
    assert smtp.log.read_text().split("\t")[1].strip() == "alice@example.com"
    text = hook.log.read_text()
    assert CHASER in text
    assert "person1@company1.example" in text  # how to reach them
    assert "Not answered yet; its window runs from the first inquiry" in text
    lead.refresh_from_db()
    assert lead.response_due_at == NOW + dt.timedelta(minutes=15)
    assert not LeadActivity.objects.filter(kind=LeadActivity.Kind.TASK).exists()
    assert LeadNotice.objects.filter(user=alice, lead=lead).count() == 1


def test_a_follow_up_after_an_answer_owes_a_new_answer_within_the_window(
    routed, alice, mailed, now
):
    _, hook = mailed
    lead = capture_lead(inquiry(), source="form").lead
    record_response(lead.pk, kind="call", by=alice)
    later = NOW + dt.timedelta(hours=2)
    with timesource.frozen_at(later):
        follow_up()
        deliver_all_due(now=later)

    task = LeadActivity.objects.get(lead=lead, kind=LeadActivity.Kind.TASK)
    assert task.subject.startswith("Answer the follow-up from Person 1")
    assert task.due_at == later + dt.timedelta(minutes=15)
    clock = Clock.objects.get(lead_task=task)
    assert (clock.kind, clock.state, clock.responsible) == (
        "next_step",
        "running",
        alice,
    )
    assert clock.due_at == task.due_at
    assert (
        "A task to answer it is due Wed 10 Jun 16:15 (Europe/Berlin)"
        in hook.log.read_text()
    )


def test_chasing_an_open_follow_up_adds_no_second_task(routed, alice, mailed, now):
    lead = capture_lead(inquiry(), source="form").lead
    record_response(lead.pk, kind="call", by=alice)
    for minutes in (60, 70):
        with timesource.frozen_at(NOW + dt.timedelta(minutes=minutes)):
            follow_up()

    assert LeadActivity.objects.filter(kind=LeadActivity.Kind.TASK).count() == 1
    told = Notice.objects.filter(user=alice).order_by("id")
    assert told.count() == 2
    assert (
        "earlier follow-up is due Wed 10 Jun 15:15 (Europe/Berlin)" in told.last().body
    )


def test_a_follow_up_on_an_open_deal_gives_its_owner_a_task_and_a_mail(
    routed, alice, mailed, now
):
    smtp, _ = mailed
    lead = capture_lead(inquiry(), source="form").lead
    deal = convert_lead(lead.pk, by=alice)
    with timesource.frozen_at(NOW + dt.timedelta(minutes=30)):
        follow_up()
        deliver_all_due(now=NOW + dt.timedelta(minutes=30))

    task = Activity.objects.get(deal=deal, kind=Activity.Kind.TASK, tag="follow-up")
    assert task.due_at == NOW + dt.timedelta(minutes=45)
    clock = Clock.objects.get(activity=task)
    assert (clock.kind, clock.state) == ("next_step", "running")
    assert "alice@example.com" in smtp.log.read_text()


def test_an_imported_follow_up_is_only_in_the_inbox(routed, alice, mailed, now):
    lead = capture_lead(inquiry(), source="form").lead
    capture_lead(inquiry(message=CHASER), source="import")

    assert LeadNotice.objects.filter(user=alice, lead=lead).count() == 1
    assert not Notice.objects.exists()


def test_splitting_a_follow_up_off_takes_its_task_and_clock_away(
    routed, alice, mailed, now
):
    from dealgate.leads.models import DedupDecision
    from dealgate.leads.services import split_lead

    lead = capture_lead(inquiry(), source="form").lead
    record_response(lead.pk, kind="call", by=alice)
    with timesource.frozen_at(NOW + dt.timedelta(minutes=60)):
        follow_up()
    assert Clock.objects.filter(lead_task__isnull=False).count() == 1

    split_lead(DedupDecision.objects.get().pk, by=alice)

    assert not LeadActivity.objects.filter(kind=LeadActivity.Kind.TASK).exists()
    assert not Clock.objects.filter(lead_task__isnull=False).exists()


def test_converting_a_lead_hands_its_open_follow_up_task_to_the_deal(
    routed, alice, now
):
    lead = capture_lead(inquiry(), source="form").lead
    record_response(lead.pk, kind="call", by=alice)
    later = NOW + dt.timedelta(hours=2)
    with timesource.frozen_at(later):
        follow_up()
    task = LeadActivity.objects.get(lead=lead, kind=LeadActivity.Kind.TASK)

    with timesource.frozen_at(later + dt.timedelta(minutes=5)):
        deal = convert_lead(lead.pk, by=alice)

    task.refresh_from_db()
    assert task.done
    lead_clock = Clock.objects.get(lead_task=task)
    assert (lead_clock.state, lead_clock.note) == (
        "met",
        f"handed on to deal {deal.pk}",
    )
    (open_task,) = Activity.objects.filter(deal=deal, kind="task", done=False)
    assert (open_task.subject, open_task.due_at) == (task.subject, task.due_at)
    deal_clock = Clock.objects.get(activity=open_task)
    assert (deal_clock.kind, deal_clock.state) == ("next_step", "running")
    assert deal_clock.due_at == task.due_at


def test_a_follow_ups_phone_and_website_reach_mail_and_webhook_as_unchecked(
    routed, alice, mailed, now
):
    _, hook = mailed
    lead = capture_lead(inquiry(), source="form").lead
    follow_up(phone="+1 202 555 0100", website="evil.example")
    deliver_all_due(now=NOW)

    (told,) = Notice.objects.filter(user=alice)
    who, unchecked = told.body.split("\n\n")[0].split("\n")
    assert who == "Person 1 · person1@company1.example · Company 1 GmbH (DE)"
    assert unchecked.startswith(
        "Given by the inquiry, unchecked: phone +1 202 555 0100, website "
        "https://evil.example. An inquiry is anonymous: anyone can send one "
        "with the buyer's email or phone."
    )
    text = hook.log.read_text()
    assert "Given by the inquiry, unchecked: phone +1 202 555 0100" in text
    assert "An inquiry is anonymous" in text
    note = LeadActivity.objects.get(lead=lead, kind=LeadActivity.Kind.INQUIRY)
    assert note.body.startswith(f"{who}\n\n{unchecked}\n\n{CHASER}")


def _payloads(hook: Receiver) -> list[dict]:
    """The whole JSON bodies the webhook receiver accepted, in order."""
    lines = Path(f"{hook.log}.json").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_follow_ups_webhook_payload_tells_offered_values_from_stored_ones(
    routed, alice, mailed, now
):
    _, hook = mailed
    lead = capture_lead(
        inquiry(phone="+49 30 1234567", company=None), source="form"
    ).lead
    follow_up(phone="+1 202 555 0100", website="evil.example", company="Initech")
    deliver_all_due(now=NOW)

    (payload,) = _payloads(hook)
    assert "Given by the inquiry, unchecked: phone +1 202 555 0100" in (payload["text"])
    told = Notice.objects.get(user=alice)
    structured = payload["dealgate"]
    assert {key: structured[key] for key in ("notice", "kind", "lead", "deal")} == {
        "notice": told.pk,
        "kind": "info",
        "lead": lead.pk,
        "deal": None,
    }
    assert structured["url"] == f"https://crm.example.com/leads/{lead.pk}/"
    assert structured["inquiry"] == {
        "matched_on": "email",
        "sender": {
            "name": "Person 1",
            "email": "person1@company1.example",
            "phone": "+1 202 555 0100",
            "company": "Initech",
        },
        "offered": {
            "phone": "+1 202 555 0100",
            "website": "https://evil.example",
            "company": "Initech",
        },
        "for_empty_fields": ["company", "website"],
        "stored": {
            "name": "Person 1",
            "email": "person1@company1.example",
            "phone": "+49 30 1234567",
            "country": "DE",
        },
        "warning": UNCHECKED,
    }


def test_a_follow_up_on_a_deal_gives_its_contacts_stored_details_by_webhook(
    routed, alice, mailed, now
):
    _, hook = mailed
    lead = capture_lead(inquiry(phone="+49 30 1234567"), source="form").lead
    deal = convert_lead(lead.pk, by=alice)
    follow_up(website="evil.example")
    deliver_all_due(now=NOW)

    structured = _payloads(hook)[-1]["dealgate"]
    inquiry_data = structured["inquiry"]
    assert structured["deal"] == deal.pk
    # The contact's number as the deal keeps it.
    assert inquiry_data["offered"] == {"website": "https://evil.example"}
    assert inquiry_data["for_empty_fields"] == []
    assert inquiry_data["stored"] == {
        "name": "Person 1",
        "email": "person1@company1.example",
        "phone": "+49301234567",
        "company": "Company 1 GmbH",
    }


def test_a_follow_up_matched_on_the_leads_own_phone_gives_it_as_contact(
    routed, alice, now
):
    capture_lead(inquiry(phone="+49 30 1234567"), source="form")

    capture_lead({"phone": "030 1234567", "name": "Anna"}, source="form")

    (told,) = Notice.objects.filter(user=alice)
    assert told.body.split("\n\n")[0] == "Anna · 030 1234567"
    assert "unchecked" not in told.body


def test_a_repeat_on_a_deal_says_its_phone_and_website_are_unchecked(
    routed, alice, now
):
    lead = capture_lead(inquiry(), source="form").lead
    deal = convert_lead(lead.pk, by=alice)

    follow_up(phone="+1 202 555 0100", website="evil.example")

    note = Activity.objects.get(deal=deal, subject__startswith="Repeat inquiry")
    assert note.subject == (
        "Repeat inquiry: Person 1 · person1@company1.example · Company 1 GmbH (DE); "
        "unchecked (an inquiry is anonymous): phone +1 202 555 0100, "
        "website https://evil.example"
    )
    (told,) = Notice.objects.filter(user=alice, deal=deal)
    assert "An inquiry is anonymous" in told.body
