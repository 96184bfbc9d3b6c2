"""Free text a person types (a loss note, an override reason, notes, an
activity, a reason, a decision) has one limit, refused with the field named
at every door: the deal page, the API and the CLI."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.cli import main
from dealgate.core.custom_fields import MAX_TEXT
from dealgate.deals.models import TEXT_LIMITS, StageEvent
from dealgate.insights.models import WeeklyReview
from dealgate.leads.models import Lead, LeadActivity
from dealgate.leads.services import MAX_BODY, MAX_NOTE
from tests.conftest import NOW
from tests.web.helpers import make_deal, text_of

LOSS_NOTE = TEXT_LIMITS["loss_note"]
OVERRIDE = TEXT_LIMITS["override_reason"]


@pytest.fixture
def deal(pipeline, alice, now):
    pipeline.won_criteria = [{"label": "Signed", "rule": "false"}]
    pipeline.custom_fields = [{"key": "need", "label": "Need", "type": "text"}]
    pipeline.save()
    return make_deal(pipeline, "review", owner=alice)


@pytest.fixture
def lead(pipeline):
    return Lead.objects.create(pipeline=pipeline, email="a@example.com", created_at=NOW)


def _api(client, user):
    client.force_login(user)
    return client


def _post(client, url, payload):
    return client.post(url, payload, content_type="application/json")


def _unmoved(deal):
    deal.refresh_from_db()
    return deal.status == "open" and not StageEvent.objects.filter(deal=deal).exists()


# --- the loss note and the override reason --------------------------------------


def test_a_loss_note_over_the_limit_is_refused_on_the_deal_page(client, deal, alice):
    client.force_login(alice)

    response = client.post(
        f"/deals/{deal.pk}/move/",
        {
            "to": "lost",
            "loss_reason": "other",
            "loss_note": "x" * 100_000,
            "version": deal.version,
        },
    )

    assert response.status_code == 422
    assert f"loss_note is 100,000 characters long; the limit is {LOSS_NOTE:,}" in (
        text_of(response)
    )
    assert _unmoved(deal)


def test_the_deal_page_limits_what_its_inputs_take(client, deal, max_manager):
    client.force_login(max_manager)

    html = client.get(f"/deals/{deal.pk}/").content.decode()

    assert f'id="loss-note" rows="2" maxlength="{LOSS_NOTE}"' in html
    assert f'id="override-reason" maxlength="{OVERRIDE}"' in html
    assert f'maxlength="{MAX_TEXT}"' in html  # the custom text field "Need"


@pytest.mark.parametrize(
    "payload, field, message",
    [
        (
            {"to": "lost", "loss_reason": "other", "loss_note": "x" * (LOSS_NOTE + 1)},
            "loss_note",
            f"loss_note is {LOSS_NOTE + 1:,} characters long; the limit is "
            f"{LOSS_NOTE:,}",
        ),
        (
            {"to": "lost", "loss_reason": "other", "loss_note": "a\x07b"},
            "loss_note",
            "loss_note must not hold control characters other than line breaks "
            "and tabs",
        ),
        (
            {"to": "won", "override_reason": "y" * (OVERRIDE + 1)},
            "override_reason",
            f"override_reason is {OVERRIDE + 1:,} characters long; the limit is "
            f"{OVERRIDE:,}",
        ),
    ],
)
def test_the_api_refuses_a_move_text_over_the_limit_naming_it(
    client, deal, max_manager, payload, field, message
):
    response = _post(
        _api(client, max_manager),
        f"/api/v1/deals/{deal.pk}/move",
        {**payload, "version": deal.version},
    )

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (field, message)
    assert _unmoved(deal)


def test_a_bulk_move_refuses_a_long_loss_note_once_not_per_deal(
    client, deal, pipeline, max_manager
):
    other = make_deal(pipeline, "review", title="Other")

    response = _post(
        _api(client, max_manager),
        "/api/v1/deals/bulk-move",
        {
            "deals": [{"id": d.pk, "version": d.version} for d in (deal, other)],
            "to": "lost",
            "loss_reason": "other",
            "loss_note": "x" * (LOSS_NOTE + 1),
        },
    )

    assert response.status_code == 422
    assert response.json()["field"] == "loss_note"
    assert "refusals" not in response.json()
    assert _unmoved(deal) and _unmoved(other)


def test_the_cli_refuses_an_override_reason_over_the_limit(deal, max_manager, capsys):
    args = ["deal", "move", str(deal.pk), "won", "--as", "max"]

    status = main([*args, "--override", "z" * (OVERRIDE + 1)])

    assert status != 0
    assert f"override_reason is {OVERRIDE + 1:,} characters long" in (
        capsys.readouterr().err
    )
    assert _unmoved(deal)


def test_a_loss_note_at_the_limit_is_kept_whole(client, deal, alice):
    note = "n" * LOSS_NOTE

    response = _post(
        _api(client, alice),
        f"/api/v1/deals/{deal.pk}/move",
        {"to": "lost", "loss_reason": "other", "loss_note": note, "version": 1},
    )

    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.loss_note == note


def test_the_api_schema_states_the_limits(client, alice):
    schema = _api(client, alice).get("/api/v1/openapi.json").json()
    move = schema["components"]["schemas"]["MoveIn"]["properties"]
    patch = schema["components"]["schemas"]["DealPatch"]["properties"]

    assert move["loss_note"]["maxLength"] == LOSS_NOTE
    assert move["override_reason"]["maxLength"] == OVERRIDE
    assert TEXT_LIMITS["notes"] in (
        patch["notes"].get("maxLength"),
        *(part.get("maxLength") for part in patch["notes"].get("anyOf", [])),
    )


# --- what an edit writes ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"notes": "n" * (TEXT_LIMITS["notes"] + 1)},
            "notes",
            f"notes is {TEXT_LIMITS['notes'] + 1:,} characters long; the limit is "
            f"{TEXT_LIMITS['notes']:,}",
        ),
        (
            {"custom": {"need": "n" * (MAX_TEXT + 1)}},
            "custom.need",
            f"custom.need: is {MAX_TEXT + 1:,} characters long; the limit is "
            f"{MAX_TEXT:,}",
        ),
    ],
)
def test_an_edit_over_a_text_limit_is_refused_naming_the_field(
    client, deal, alice, changes, field, message
):
    response = _api(client, alice).patch(
        f"/api/v1/deals/{deal.pk}",
        {"version": deal.version, **changes},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (field, message)
    deal.refresh_from_db()
    assert (deal.version, deal.notes, deal.custom) == (1, "", {})


# --- leads and the weekly review -------------------------------------------------


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"kind": "note", "body": "b" * (MAX_BODY + 1)}, "body"),
        ({"kind": "note", "body": "a\x00b"}, "body"),
        ({"kind": "note", "subject": "one\ntwo"}, "subject"),
    ],
)
def test_a_lead_activity_over_its_limits_is_refused(
    client, lead, olivia, payload, field
):
    response = _post(
        _api(client, olivia), f"/api/v1/leads/{lead.pk}/activities", payload
    )

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert not LeadActivity.objects.exists()


def test_a_disqualify_reason_with_a_control_character_is_refused(client, lead, olivia):
    response = _post(
        _api(client, olivia),
        f"/api/v1/leads/{lead.pk}/disqualify",
        {"reason": "spam\x07"},
    )

    assert response.status_code == 422
    assert response.json()["message"] == (
        "reason must be one line, without line breaks or control characters"
    )
    lead.refresh_from_db()
    assert lead.is_open


@pytest.mark.parametrize("reason", ["spam\nline2", "spam\rbot", "spam\u2028bot"])
def test_a_disqualify_reason_with_a_line_break_is_refused_not_folded(
    client, lead, olivia, reason
):
    response = _post(
        _api(client, olivia), f"/api/v1/leads/{lead.pk}/disqualify", {"reason": reason}
    )

    assert response.status_code == 422
    assert (response.json()["field"], response.json()["message"]) == (
        "reason",
        "reason must be one line, without line breaks or control characters",
    )
    lead.refresh_from_db()
    assert lead.is_open and lead.disqualify_reason == ""


def test_the_lead_page_refuses_a_line_break_in_the_reason_as_the_api_does(
    client, lead, olivia
):
    client.force_login(olivia)

    response = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": "spam\nline2"})

    assert response.status_code == 422
    assert "reason must be one line, without line breaks" in text_of(response)
    lead.refresh_from_db()
    assert lead.is_open


def test_a_disqualify_reason_is_kept_as_typed_inside_its_ends(client, lead, olivia):
    response = _post(
        _api(client, olivia),
        f"/api/v1/leads/{lead.pk}/disqualify",
        {"reason": "  spam,  twice over "},
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.disqualify_reason == "spam,  twice over"


def test_an_assignment_note_over_the_limit_is_refused_on_the_page(
    client, lead, olivia, alice
):
    client.force_login(olivia)

    response = client.post(
        f"/leads/{lead.pk}/assign/",
        {"owner": "alice", "note": "n" * (MAX_NOTE + 1)},
    )

    assert response.status_code == 422
    assert f"note is {MAX_NOTE + 1:,} characters long; the limit is {MAX_NOTE:,}" in (
        text_of(response)
    )
    lead.refresh_from_db()
    assert lead.owner is None


def test_a_review_decision_with_a_control_character_is_refused_naming_it(
    client, pipeline, olivia
):
    client.force_login(olivia)
    week = (NOW - dt.timedelta(days=NOW.weekday())).date().isoformat()

    response = client.post(
        "/insights/review/", {"week": week, "metric": "", "decision": "go\x07on"}
    )

    assert response.status_code == 422
    assert "decision must not hold control characters" in text_of(response)
    assert not WeeklyReview.objects.exists()
