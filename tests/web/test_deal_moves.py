"""Stage gates through the deal page and the board's move endpoint."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Deal, StageEvent

from .helpers import make_deal, text_of

CLOSE_DATE = {
    "label": "expected close date set",
    "rule": "deal.expected_close_date != null",
}
VALUE = {"label": "value known", "rule": "deal.value != null"}
SEATS = {"label": "seats counted", "rule": "deal.custom.seats > 0"}
BUDGET = {"label": "budget confirmed", "rule": "checklist.budget_confirmed"}


@pytest.fixture
def gated(pipeline):
    """Proposal needs a value and an expected close date to be left."""
    pipeline.custom_fields = [
        {"key": "seats", "label": "Seats", "type": "number"},
        {"key": "signed_on", "label": "Signed on", "type": "date"},
        {"key": "renewal", "label": "Renewal", "type": "bool"},
        {
            "key": "tier",
            "label": "Tier",
            "type": "choice",
            "choices": ["gold", "basic"],
        },
    ]
    pipeline.save()
    proposal = pipeline.stages.get(key="proposal")
    proposal.exit_criteria = [VALUE, CLOSE_DATE]
    proposal.save()
    return pipeline


@pytest.fixture
def deal(gated, alice, now):
    return make_deal(gated, "proposal", title="Helpdesk", value=5000, owner=alice)


def page_of(client, deal):
    return text_of(client.get(reverse("deal", args=[deal.pk])))


def move(client, deal, to, version=None, headers=None, **fields):
    data = {"to": to, "version": deal.version if version is None else version}
    return client.post(
        reverse("deal-move", args=[deal.pk]), {**data, **fields}, headers=headers
    )


AS_BOARD = {"Accept": "application/json"}


def test_the_deal_page_shows_the_exit_criteria_as_a_checklist(client, alice, deal):
    client.force_login(alice)

    text = page_of(client, deal)

    assert "To leave Proposal requested" in text
    assert "✓ Value known" in text
    assert "✗ Expected close date set" in text


def test_the_deal_page_offers_every_target_and_the_loss_reasons(client, alice, deal):
    client.force_login(alice)

    response = client.get(reverse("deal", args=[deal.pk]))
    page = response.content.decode()

    for key in ("inquiry", "discovery", "review", "contract", "won", "lost"):
        assert f'<option value="{key}"' in page
    assert '<option value="proposal"' not in page  # where it already is
    assert '<option value="other">Other (needs a note)</option>' in page
    assert f'name="version" value="{deal.version}"' in page
    # Only managers are offered an override.
    assert "override_reason" not in page


def test_a_refused_move_names_the_unmet_criteria_and_changes_nothing(
    client, alice, deal
):
    client.force_login(alice)

    response = move(client, deal, "review")

    assert response.status_code == 422
    assert (
        "Refused: 1 exit criterion of 'Proposal requested' is unmet: "
        "expected close date set"
    ) in text_of(response)
    deal.refresh_from_db()
    assert deal.stage.key == "proposal"
    assert not StageEvent.objects.filter(deal=deal).exists()


def test_a_move_that_meets_the_gates_is_made_and_recorded(client, alice, deal):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    client.force_login(alice)

    response = move(client, deal, "review")

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage.key == "review"
    event = StageEvent.objects.get(deal=deal)
    assert (event.by, event.source) == (alice, "web")
    assert "Proposal reviewed by the buyer" in page_of(client, deal)


@pytest.mark.parametrize("door", ["deal page", "board"])
def test_lost_without_a_reason_is_refused_naming_the_reason(client, alice, deal, door):
    client.force_login(alice)

    response = move(client, deal, "lost", headers=AS_BOARD if door == "board" else None)

    assert response.status_code == 422
    if door == "board":
        assert response.json()["ok"] is False
        assert "a lost deal needs a loss reason" in response.json()["message"]
    else:
        assert "a lost deal needs a loss reason" in text_of(response)
    deal.refresh_from_db()
    assert deal.status == Deal.Status.OPEN
    assert deal.closed_at is None
    assert not Deal.objects.filter(status=Deal.Status.LOST).exists()
    assert not StageEvent.objects.exists()


def test_a_reason_that_needs_a_note_is_refused_without_one(client, alice, deal):
    client.force_login(alice)

    response = move(client, deal, "lost", loss_reason="other")

    assert response.status_code == 422
    assert "needs a note" in text_of(response)
    assert not Deal.objects.filter(status=Deal.Status.LOST).exists()


def test_lost_with_a_reason_stores_it_and_the_close_date(client, alice, deal, now):
    client.force_login(alice)

    response = move(client, deal, "lost", loss_reason="price")

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason, deal.closed_at) == ("lost", "price", now)


def test_a_manager_override_moves_the_deal_and_is_recorded(client, max_manager, deal):
    client.force_login(max_manager)
    assert "override_reason" in client.get(reverse("deal", args=[deal.pk])).text

    response = move(
        client, deal, "review", override_reason="buyer confirmed on the phone"
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage.key == "review"
    event = StageEvent.objects.get(deal=deal)
    assert event.override_reason == "buyer confirmed on the phone"
    assert "buyer confirmed on the phone" in page_of(client, deal)


def test_a_rep_cannot_override_a_refused_move(client, alice, deal):
    client.force_login(alice)

    response = move(client, deal, "review", override_reason="trust me")

    assert response.status_code == 403
    assert "only a manager or admin may override" in text_of(response)
    deal.refresh_from_db()
    assert deal.stage.key == "proposal"


def test_a_move_on_a_stale_version_is_a_conflict_and_changes_nothing(
    client, alice, deal
):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    services.update_deal(deal.pk, {"title": "Renamed"}, by=None, expected_version=1)
    client.force_login(alice)

    response = move(client, deal, "review", version=1)

    assert response.status_code == 409
    text = text_of(response)
    assert "This deal changed since you opened it; reload" in text
    deal.refresh_from_db()
    assert deal.stage.key == "proposal"
    assert not StageEvent.objects.exists()
    # The form keeps the stale version, so resending it cannot slip through.
    assert 'name="version" value="1"' in response.content.decode()


def test_an_edit_saves_the_fields_criteria_read(client, alice, gated, deal):
    stage = gated.stages.get(key="proposal")
    stage.exit_criteria = [VALUE, CLOSE_DATE, SEATS, BUDGET]
    stage.save()
    client.force_login(alice)
    assert "budget_confirmed" in page_of(client, deal)  # named in a rule

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {
            "version": deal.version,
            "title": "Helpdesk, 40 seats",
            "value": "18,500.50",
            "expected_close_date": "2026-07-31",
            "custom:seats": "40",
            "custom:signed_on": "2026-06-01",
            "custom:renewal": "no",
            "custom:tier": "gold",
            "checklist:budget_confirmed": "on",
        },
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Helpdesk, 40 seats"
    assert deal.value == Decimal("18500.50")
    assert deal.expected_close_date == dt.date(2026, 7, 31)
    assert deal.custom == {
        "seats": 40,
        "signed_on": "2026-06-01",
        "renewal": False,
        "tier": "gold",
    }
    assert deal.checklist == {"budget_confirmed": True}
    assert deal.version == 2
    text = page_of(client, deal)
    for line in ("Value known", "Expected close date set", "Seats counted"):
        assert f"✓ {line}" in text
    assert "✓ Budget confirmed" in text


def test_an_edit_with_unreadable_values_names_them_and_saves_nothing(
    client, alice, deal
):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {
            "version": deal.version,
            "title": "Helpdesk",
            "value": "lots",
            "expected_close_date": "31/07/2026",
            "custom:tier": "platinum",
        },
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "'lots' is not a number" in text
    assert "'31/07/2026' is not a date like 2026-07-31" in text
    assert "'platinum' is not one of gold, basic" in text
    deal.refresh_from_db()
    assert (deal.value, deal.expected_close_date, deal.version) == (5000, None, 1)


def test_an_edit_with_more_than_cents_is_refused_not_rounded(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": "Helpdesk", "value": "12.345"},
    )

    assert response.status_code == 422
    assert "'12.345' has more than two decimal places" in text_of(response)
    deal.refresh_from_db()
    assert (deal.value, deal.version) == (5000, 1)


def test_a_title_the_service_refuses_is_shown_at_the_title_input(client, alice, deal):
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": "Help\x01desk", "value": "10"},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert (
        '<p class="field-error" role="alert">Title: must be one line, '
        "without line breaks or control characters</p>"
    ) in page
    deal.refresh_from_db()
    assert (deal.title, deal.version) == ("Helpdesk", 1)


def test_a_nul_in_a_custom_field_is_refused_naming_it(client, alice, gated, deal):
    # No one types a NUL: it is refused before the page, on both databases
    # (dealgate.web.controls); other controls are the field's own rule.
    gated.custom_fields += [{"key": "need", "label": "Need", "type": "text"}]
    gated.save()
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": "Helpdesk", "custom:need": "x\x00y"},
    )

    assert response.status_code == 400
    assert "the form field custom:need holds a control character (U+0000)" in (
        response.content.decode()
    )
    deal.refresh_from_db()
    assert deal.version == 1


def test_an_edit_on_a_stale_version_is_refused_and_keeps_the_newer_move(
    client, alice, max_manager, deal
):
    """Two people, one deal: Max moves it, then Alice saves her old copy."""
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    seen = deal.version
    services.move_deal(deal.pk, "review", by=max_manager, expected_version=seen)
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": seen, "title": "Alice's title", "value": "1"},
    )

    assert response.status_code == 409
    assert "This deal changed since you opened it; reload" in text_of(response)
    deal.refresh_from_db()
    assert (deal.stage.key, deal.title, deal.value) == ("review", "Helpdesk", 5000)
    assert StageEvent.objects.filter(deal=deal).count() == 1


def test_a_form_without_a_version_is_refused(client, alice, deal):
    client.force_login(alice)

    response = client.post(reverse("deal-move", args=[deal.pk]), {"to": "review"})

    assert response.status_code == 422
    assert "did not say which version" in text_of(response)


def test_board_cards_carry_what_a_drop_needs(client, alice, deal):
    client.force_login(alice)

    page = client.get(reverse("board")).content.decode()

    assert (
        f'draggable="true" data-deal="{deal.pk}" data-version="1" '
        f'data-move-url="{reverse("deal-move", args=[deal.pk])}"'
    ) in page
    assert 'id="board-message" role="alert"' in page
    assert "dealgate/board.js" in page


def test_a_refused_drop_answers_the_board_in_words(client, alice, deal):
    client.force_login(alice)

    response = move(client, deal, "review", headers=AS_BOARD)

    assert response.status_code == 422
    assert response.json() == {
        "ok": False,
        "message": (
            "Refused: 1 exit criterion of 'Proposal requested' is unmet: "
            "expected close date set"
        ),
        "unmet": [
            "1 exit criterion of 'Proposal requested' is unmet: expected close date set"
        ],
    }


def test_a_drop_that_meets_the_gates_moves_the_deal(client, alice, deal):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    client.force_login(alice)

    response = move(client, deal, "review", headers=AS_BOARD)

    assert (response.status_code, response.json()) == (200, {"ok": True})
    deal.refresh_from_db()
    assert deal.stage.key == "review"
    assert StageEvent.objects.get(deal=deal).source == "board"


def test_moves_and_edits_must_be_posted_a_visit_leads_to_the_deal(client, alice, deal):
    client.force_login(alice)

    move = client.get(reverse("deal-move", args=[deal.pk]), {"to": "review"})
    edit = client.get(reverse("deal-edit", args=[deal.pk]))

    page = reverse("deal", args=[deal.pk])
    assert (move.status_code, move["Location"]) == (302, page)
    assert (edit.status_code, edit["Location"]) == (302, page)
    deal.refresh_from_db()
    assert deal.stage.key == "proposal"


@pytest.mark.parametrize(
    ("to", "fields", "named"),
    [
        ("review", {"loss_reason": "price"}, "Loss reason"),
        ("won", {"loss_note": "went quiet"}, "Loss note"),
        ("lost", {"loss_reason": "price", "override_reason": "x"}, "Override reason"),
    ],
)
def test_the_page_refuses_a_move_field_that_does_not_apply_naming_its_label(
    client, max_manager, deal, to, fields, named
):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    client.force_login(max_manager)

    response = move(client, deal, to, **fields)

    assert response.status_code == 422
    text = text_of(response)
    assert f"{named}:" in text
    assert "loss_reason" not in text.replace('name="loss_reason"', "")
    deal.refresh_from_db()
    assert (deal.status, deal.stage.key) == ("open", "proposal")
    assert not StageEvent.objects.exists()


def test_the_page_refuses_an_override_of_a_move_that_meets_its_gates(
    client, max_manager, deal
):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=dt.date(2026, 7, 31))
    client.force_login(max_manager)

    response = move(client, deal, "review", override_reason="just in case")

    assert response.status_code == 422
    assert "Override reason: deal" in text_of(response)
    assert "meets what this move needs" in text_of(response)
    assert not StageEvent.objects.exists()


def test_the_move_forms_fields_say_which_move_reads_them_for_its_script(
    client, max_manager, deal
):
    client.force_login(max_manager)

    page = client.get(reverse("deal", args=[deal.pk])).content.decode()

    assert '<div class="move-fields" data-for="lost">' in page
    assert '<div class="move-fields" data-except="lost">' in page
    assert "dealgate/deal_move.js" in page
