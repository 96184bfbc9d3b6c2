"""A lead from the website form or the lead API that SQLite's write lock
refuses (an import is running) is kept on disk and thanked as received; the
sweeper captures it once the database is free, as received then, exactly
once, or sets it aside saying why. On a real SQLite file, the lock held by a
second connection."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
from pathlib import Path

import pytest
from django.db import connection

from dealgate import timesource
from dealgate.clocks.models import Clock
from dealgate.clocks.runner import run_once
from dealgate.leads import formhits, spool
from dealgate.leads.models import (
    ApiToken,
    DedupDecision,
    FormHit,
    Lead,
    SpooledCapture,
)
from dealgate.leads.tokens import create_token
from dealgate.web.busy import set_wait

from .conftest import inquiry

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "/leads/form/new-business/"
API = "/api/v1/leads"


@pytest.fixture(autouse=True)
def _short_web_wait(settings) -> None:
    settings.WEB_DB_WAIT = 0.05


@pytest.fixture
def kept_lead(routed, settings, tmp_path, now) -> Path:
    """A form inquiry kept in a spool folder of the test's own, received
    `now`: what a busy SQLite database leaves, on either database."""
    settings.LEADS_SPOOL_DIR = str(tmp_path / "spool")
    entry = spool._Entry(
        receipt="0" * 31 + "1",
        channel="form",
        pipeline=routed.key,
        by=None,
        received_at=now,
        data=inquiry(),
        sender="visitor",
        kept_at=now,
    )
    assert spool._keep(entry)
    (kept,) = (tmp_path / "spool").glob("*.json")
    return kept


def _folder(sqlite_file: Path) -> Path:
    return Path(f"{sqlite_file}-lead-spool")


def _kept(sqlite_file: Path) -> list[Path]:
    return sorted(_folder(sqlite_file).glob("*.json"))


def _post_api(client, secret: str, data: dict) -> object:
    return client.post(
        API,
        json.dumps(data),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def _import_ends(other_writer) -> None:
    other_writer.execute("ROLLBACK")


def test_a_form_submission_during_an_import_is_thanked_and_kept_on_disk(
    sqlite_file, routed, client, other_writer, now, caplog
):
    other_writer.execute("BEGIN IMMEDIATE")

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        response = client.post(FORM, inquiry(message="Please call me back"))

    assert response.status_code == 200
    assert "We have your message" in response.content.decode()
    assert not Lead.objects.exists()
    (kept,) = _kept(sqlite_file)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert not list(_folder(sqlite_file).glob(".*"))  # no half-written file
    saved = json.loads(kept.read_text())
    assert (saved["channel"], saved["pipeline"]) == ("form", "new-business")
    assert saved["received_at"] == now.isoformat()
    assert saved["data"]["email"] == "person1@company1.example"
    logged = caplog.text
    assert f"kept in the lead spool as {saved['receipt']}" in logged
    assert "Please call me back" not in logged and "person1@" not in logged


def test_the_sweeper_captures_a_kept_lead_with_its_window_from_when_it_was_sent(
    sqlite_file, routed, client, other_writer, now
):
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry())
    _import_ends(other_writer)

    # Taken in 20 minutes later: its 15 business minutes ran out meanwhile.
    with timesource.frozen_at(now + dt.timedelta(minutes=20)):
        tick = run_once(send=False)

    lead = Lead.objects.get()
    assert (lead.channel, lead.owner.username) == ("form", "alice")
    assert lead.created_at == lead.assigned_at == now
    assert lead.response_due_at == now + dt.timedelta(minutes=15)
    clock = Clock.objects.get(lead=lead)
    assert (clock.started_at, clock.due_at) == (now, lead.response_due_at)
    # Taken in before the sweep of the same tick, which finds it overdue.
    assert (tick.drained.taken, tick.sweep.breached) == (1, 1)
    assert _kept(sqlite_file) == []
    receipt = SpooledCapture.objects.get()
    assert (receipt.lead_id, receipt.received_at) == (lead.pk, now)


def test_the_api_answers_202_and_each_external_id_is_captured_once(
    sqlite_file, routed, olivia, client, other_writer, now
):
    # A token that may read leads: a capture token is answered `received`
    # whether kept or not (tests/leads/test_capture_answered_first.py).
    secret = create_token(olivia, "crm", scope=ApiToken.Scope.LEADS)[1]
    other_writer.execute("BEGIN IMMEDIATE")

    answers = [
        _post_api(client, secret, inquiry(external_id="web-7")) for _ in range(2)
    ]

    assert [answer.status_code for answer in answers] == [202, 202]
    body = answers[0].json()
    assert body["outcome"] == "queued" and "kept" in body["reason"]
    assert dt.datetime.fromisoformat(body["received_at"]) == now
    assert body["receipt"] != answers[1].json()["receipt"]
    _import_ends(other_writer)

    drained = spool.drain_spool()

    assert drained.taken == 2
    lead = Lead.objects.get()
    assert (lead.external_id, lead.created_by) == ("web-7", olivia)
    assert lead.channel == "api"


def test_a_repeat_kept_in_the_spool_is_attached_to_the_lead_it_repeats(
    sqlite_file, routed, client, other_writer, now
):
    client.post(FORM, inquiry())
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry(message="Still interested"))
    _import_ends(other_writer)

    spool.drain_spool()

    lead = Lead.objects.get()
    decision = DedupDecision.objects.get()
    assert (decision.lead_id, decision.at) == (lead.pk, now)


def test_a_bad_submission_during_an_import_is_refused_naming_its_field(
    sqlite_file, routed, olivia, client, other_writer, now
):
    secret = create_token(olivia, "website")[1]
    other_writer.execute("BEGIN IMMEDIATE")

    form = client.post(FORM, inquiry(email="not an address"))
    api = _post_api(client, secret, inquiry(country="Germany"))

    assert form.status_code == 422 and "email" in form.content.decode()
    assert api.status_code == 422 and api.json()["field"] == "country"
    assert _kept(sqlite_file) == []


def test_a_value_its_currency_cannot_have_is_refused_during_an_import_not_kept(
    sqlite_file, routed, olivia, client, other_writer, now
):
    secret = create_token(olivia, "website")[1]
    other_writer.execute("BEGIN IMMEDIATE")

    api = _post_api(client, secret, inquiry(value="1000.50", currency="JPY"))

    assert api.status_code == 422 and api.json()["field"] == "value"
    assert "JPY amounts have 0" in api.json()["message"]
    assert _kept(sqlite_file) == []


def test_a_crash_after_a_capture_before_its_file_is_removed_captures_once(
    kept_lead, monkeypatch
):
    def crash(path: Path) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(spool, "_remove", crash)
        with pytest.raises(KeyboardInterrupt):
            spool.drain_spool()
    assert Lead.objects.count() == 1 and kept_lead.exists()

    again = spool.drain_spool()

    assert (again.taken, again.repeated) == (0, 1)
    assert Lead.objects.count() == 1
    assert not kept_lead.exists()


def test_a_kept_file_that_cannot_be_captured_is_set_aside_with_its_reason(
    kept_lead, caplog
):
    saved = json.loads(kept_lead.read_text())
    kept_lead.write_text(json.dumps({**saved, "pipeline": "gone"}))
    (kept_lead.parent / "stray.json").write_text("{not json")

    with caplog.at_level(logging.ERROR, logger="dealgate.leads"):
        drained = spool.drain_spool()

    assert drained.set_aside == 2 and not Lead.objects.exists()
    aside = kept_lead.parent / spool.SET_ASIDE
    why = (aside / f"{kept_lead.name}.reason.txt").read_text()
    assert "refused: pipeline: no pipeline 'gone'" in why
    assert "not JSON" in (aside / "stray.json.reason.txt").read_text()
    assert (aside / kept_lead.name).exists() and not kept_lead.exists()
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2

    # Put right and moved back, it is taken in.
    (aside / kept_lead.name).write_text(json.dumps(saved))
    (aside / kept_lead.name).rename(kept_lead)
    assert spool.drain_spool().taken == 1
    assert Lead.objects.count() == 1


def test_a_kept_lead_is_taken_in_as_received_on_either_database(kept_lead, now):
    with timesource.frozen_at(now + dt.timedelta(hours=2)):
        drained = spool.drain_spool()

    assert drained.taken == 1 and not kept_lead.exists()
    lead = Lead.objects.get()
    assert lead.created_at == lead.assigned_at == now
    assert Clock.objects.get(lead=lead).started_at == now
    assert spool.drain_spool() == spool.Drained()


def test_while_the_import_still_runs_the_sweeper_leaves_the_spool_waiting(
    sqlite_file, routed, client, other_writer, now
):
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry())
    connection.ensure_connection()
    set_wait(connection, 0.05)  # a command's 20 s, shortened for the test

    drained = spool.drain_spool()

    assert (drained.taken, drained.waiting) == (0, 1)
    assert len(_kept(sqlite_file)) == 1


def test_kept_submissions_count_against_the_form_s_rate_limit(
    sqlite_file, routed, client, other_writer, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2
    other_writer.execute("BEGIN IMMEDIATE")

    codes = [client.post(FORM, inquiry(n)).status_code for n in (1, 2, 3)]

    assert codes == [200, 200, 429]
    assert len(_kept(sqlite_file)) == 2


def test_a_kept_submission_still_counts_against_the_rate_limit_once_taken_in(
    sqlite_file, routed, client, other_writer, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2
    other_writer.execute("BEGIN IMMEDIATE")
    assert client.post(FORM, inquiry(1)).status_code == 200
    _import_ends(other_writer)

    assert spool.drain_spool().taken == 1
    codes = [client.post(FORM, inquiry(n)).status_code for n in (2, 3)]

    # The one taken in counts in the window it was posted in: one more fits.
    assert codes == [200, 429]
    assert FormHit.objects.get().count == 2


def test_a_kept_submission_counts_in_the_window_it_was_posted_in(
    sqlite_file, routed, client, other_writer, now, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 1
    settings.LEADS_FORM_RATE_WINDOW = 600
    other_writer.execute("BEGIN IMMEDIATE")
    client.post(FORM, inquiry(1))
    _import_ends(other_writer)

    later = now + dt.timedelta(minutes=30)
    with timesource.frozen_at(later):
        spool.drain_spool()
        code = client.post(FORM, inquiry(2)).status_code

    # Taken in half an hour later, it used up its own window, not this one.
    assert code == 200
    windows = dict(FormHit.objects.values_list("window_start", "count"))
    assert windows == {formhits.stamp(now): 1, formhits.stamp(later): 1}


def test_a_kept_submission_is_never_counted_twice_while_its_file_remains(
    kept_lead, now, settings, monkeypatch
):
    settings.LEADS_FORM_RATE_WINDOW = 600
    start = formhits.window_from(now)
    assert spool.waiting_from("visitor", start) == 1
    with monkeypatch.context() as patched:
        patched.setattr(spool, "_remove", lambda path: None)
        assert spool.drain_spool().taken == 1
    assert kept_lead.exists()  # as a crash before its removal leaves it

    # Counted once: in the database now, no longer from the spool.
    assert formhits.counted("visitor", start) == 1
    assert spool.waiting_from("visitor", start) == 0
    assert spool.drain_spool().repeated == 1
    assert formhits.counted("visitor", start) == 1


def test_a_kept_api_lead_counts_against_no_form_limit(kept_lead, now):
    saved = json.loads(kept_lead.read_text())
    kept_lead.write_text(json.dumps({**saved, "channel": "api", "sender": "user1"}))

    assert spool.drain_spool().taken == 1
    assert not FormHit.objects.exists()


def test_a_filled_honeypot_during_an_import_is_thanked_and_dropped(
    sqlite_file, routed, client, other_writer, now, caplog
):
    other_writer.execute("BEGIN IMMEDIATE")

    with caplog.at_level(logging.INFO, logger="dealgate.leads"):
        response = client.post(FORM, inquiry(fax_number="555-0100"))

    # As without an import: the bot learns nothing; nothing is kept either.
    assert response.status_code == 200
    assert "We have your message" in response.content.decode()
    assert _kept(sqlite_file) == []
    assert "honeypot filled; not counted, the database is busy" in caplog.text
    _import_ends(other_writer)
    assert not Lead.objects.exists() and not FormHit.objects.exists()


def test_when_the_spool_cannot_take_it_the_form_says_it_was_not_received(
    sqlite_file, routed, client, other_writer, now, settings, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LEADS_SPOOL_DIR = str(blocker / "spool")
    other_writer.execute("BEGIN IMMEDIATE")

    response = client.post(FORM, inquiry())

    assert response.status_code == 503
    assert "Your message was not received" in response.content.decode()


@pytest.mark.django_db
def test_without_a_database_file_there_is_no_spool():
    # PostgreSQL locks rows, not the database; an in-memory SQLite database
    # has no folder to keep a spool beside.
    assert spool.spool_dir() is None
    assert spool.drain_spool() == spool.Drained()
