"""A lead a rep types on the New lead page while an import holds SQLite is
kept in the lead spool, as the website form's is: the page says it was
received and will appear once the database is free (not that it was
created), and the sweeper captures it once, at the time it was posted, with
the rep as its creator. On a real SQLite file, the lock held by a second
connection."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest
from django.test import Client

from dealgate import timesource
from dealgate.clocks.runner import run_once
from dealgate.leads import spool
from dealgate.leads.models import DedupDecision, Lead, SpooledCapture

from .conftest import inquiry

pytestmark = pytest.mark.django_db(transaction=True)

NEW = "/leads/new/"


@pytest.fixture(autouse=True)
def _short_web_wait(settings) -> None:
    settings.WEB_DB_WAIT = 0.05


def _kept(sqlite_file: Path) -> list[Path]:
    return sorted(Path(f"{sqlite_file}-lead-spool").glob("*.json"))


def _receipt(client) -> str:
    page = client.get(NEW).content.decode()
    return re.search(r'name="receipt" value="([0-9a-f]{32})"', page).group(1)


def _phone_call(n: int = 1, **fields) -> dict[str, str]:
    """What a rep types from a phone call: every field of the page."""
    return inquiry(
        n,
        segment="Manufacturing",
        company_size="1,200",
        value="18,500.50",
        source="phone call",
        message="Called about a support contract",
        **fields,
    )


def test_a_lead_typed_during_an_import_is_received_not_refused(
    sqlite_file, routed, max_manager, client, other_writer, now, caplog
):
    client.force_login(max_manager)
    receipt = _receipt(client)
    other_writer.execute("BEGIN IMMEDIATE")

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        response = client.post(NEW, {**_phone_call(), "receipt": receipt})

    assert response.status_code == 202
    page = response.content.decode()
    assert "Lead received, not created yet" in page
    assert "will appear in the inbox" in page and "once the database is free" in page
    # In the pipeline's zone, named, as the lead's page will show it.
    assert "10 Jun 2026, 14:00 Europe/Berlin" in page
    # A fresh form for the next call, not the one just sent.
    assert 'value="Person 1"' not in page and receipt not in page
    (kept,) = _kept(sqlite_file)
    saved = json.loads(kept.read_text())
    assert (saved["channel"], saved["by"]) == ("web", max_manager.pk)
    assert saved["data"]["source"] == "phone call"
    assert "kept in the lead spool as" in caplog.text
    other_writer.execute("ROLLBACK")
    assert not Lead.objects.exists()


def test_the_sweeper_captures_it_once_as_posted_by_the_rep_who_typed_it(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(NEW, {**_phone_call(), "receipt": _receipt(client)})
    other_writer.execute("ROLLBACK")

    with timesource.frozen_at(now + dt.timedelta(minutes=20)):
        first = run_once(send=False)
        second = run_once(send=False)

    lead = Lead.objects.get()
    # As the page would have made it: the rep as creator, routed by the rules.
    assert (lead.channel, lead.created_by, lead.owner.username) == (
        "web",
        max_manager,
        "alice",
    )
    assert lead.created_at == lead.assigned_at == now
    assert (lead.source, lead.segment, lead.company_size) == (
        "phone call",
        "Manufacturing",
        1200,
    )
    assert str(lead.value) == "18500.50"
    assert (first.drained.taken, second.drained.taken) == (1, 0)
    assert first.sweep.breached == 1  # its window ran out while it waited
    assert SpooledCapture.objects.get().lead == lead
    assert _kept(sqlite_file) == []


def test_the_same_form_sent_twice_during_an_import_is_captured_once(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    typed = {**_phone_call(), "receipt": _receipt(client)}
    other_writer.execute("BEGIN IMMEDIATE")

    first = client.post(NEW, typed)
    with timesource.frozen_at(now + dt.timedelta(seconds=2)):
        again = client.post(NEW, typed)  # a resend, a moment later
    other_writer.execute("ROLLBACK")
    drained = spool.drain_spool()

    assert (first.status_code, again.status_code) == (202, 202)
    assert (drained.taken, drained.repeated) == (1, 1)
    assert Lead.objects.count() == 1 and not DedupDecision.objects.exists()


def test_another_person_s_receipt_claims_nothing_of_theirs(
    sqlite_file, routed, max_manager, alice, client, other_writer, now
):
    client.force_login(max_manager)
    receipt = _receipt(client)
    other = Client()
    other.force_login(alice)
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(NEW, {**_phone_call(1), "receipt": receipt})
    other.post(NEW, {**inquiry(2), "receipt": receipt})  # copied from max's page
    other_writer.execute("ROLLBACK")

    assert spool.drain_spool().taken == 2
    assert sorted(Lead.objects.values_list("created_by__username", flat=True)) == [
        "alice",
        "max",
    ]


def test_a_mistyped_lead_during_an_import_is_refused_naming_its_field(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    other_writer.execute("BEGIN IMMEDIATE")

    response = client.post(NEW, _phone_call(email="not an address"))

    assert response.status_code == 422
    page = response.content.decode()
    assert "email" in page and 'value="Person 1"' in page
    assert _kept(sqlite_file) == []


def test_when_the_spool_cannot_keep_it_the_page_keeps_what_was_typed(
    sqlite_file, routed, max_manager, client, other_writer, now, settings, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LEADS_SPOOL_DIR = str(blocker / "spool")
    client.force_login(max_manager)
    other_writer.execute("BEGIN IMMEDIATE")

    response = client.post(NEW, _phone_call())

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert "nothing was saved" in page and "send it again in a minute" in page
    assert 'value="Person 1"' in page and "Called about a support contract" in page


def test_the_same_form_sent_twice_with_the_database_free_makes_one_lead(
    sqlite_file, routed, max_manager, client, now
):
    client.force_login(max_manager)
    typed = {**_phone_call(), "receipt": _receipt(client)}

    first = client.post(NEW, typed)
    again = client.post(NEW, typed, follow=True)

    lead = Lead.objects.get()
    assert first["Location"] == f"/leads/{lead.pk}/"
    assert again.redirect_chain[-1][0] == f"/leads/{lead.pk}/"
    assert "this form was sent before" in again.content.decode()
    assert not DedupDecision.objects.exists()


def test_a_form_kept_during_an_import_and_sent_again_after_it_is_captured_once(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    typed = {**_phone_call(), "receipt": _receipt(client)}
    other_writer.execute("BEGIN IMMEDIATE")
    assert client.post(NEW, typed).status_code == 202
    other_writer.execute("ROLLBACK")

    with timesource.frozen_at(now + dt.timedelta(minutes=1)):
        assert client.post(NEW, typed).status_code == 302  # captured at once
        drained = spool.drain_spool()

    assert (drained.taken, drained.repeated) == (0, 1)
    assert Lead.objects.count() == 1 and not DedupDecision.objects.exists()
    assert _kept(sqlite_file) == []


def test_a_form_captured_and_sent_again_during_an_import_is_captured_once(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    typed = {**_phone_call(), "receipt": _receipt(client)}
    assert client.post(NEW, typed).status_code == 302
    other_writer.execute("BEGIN IMMEDIATE")
    assert client.post(NEW, typed).status_code == 202
    other_writer.execute("ROLLBACK")

    drained = spool.drain_spool()

    assert (drained.taken, drained.repeated) == (0, 1)
    assert Lead.objects.count() == 1 and not DedupDecision.objects.exists()


def test_the_inbox_says_how_many_leads_wait_in_the_spool_until_captured(
    sqlite_file, routed, max_manager, client, other_writer, now
):
    client.force_login(max_manager)
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(NEW, {**_phone_call(1), "receipt": _receipt(client)})
    client.post(NEW, {**_phone_call(2), "receipt": _receipt(client)})
    other_writer.execute("ROLLBACK")

    waiting = client.get("/leads/").content.decode()
    with timesource.frozen_at(now + dt.timedelta(minutes=20)):
        run_once(send=False)
    captured = client.get("/leads/").content.decode()

    assert "2 leads received while the database was busy are waiting" in waiting
    assert 'id="spooled"' not in captured
