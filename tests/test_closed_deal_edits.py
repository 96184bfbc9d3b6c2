"""A closed deal keeps what it closed with: the fields the figures read are
corrected only by a manager (for their teams' deals) or an admin, with a
reason, at every door (the deal page, the API, /admin/), and every edit of a
closed deal is recorded in its activities as a system record naming who
changed which field from what to what, and why."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.errors import PermissionDenied, ValidationError
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal, text_of


@pytest.fixture
def won(pipeline, alice, now):
    return make_deal(
        pipeline,
        "contract",
        title="Backup for Acme",
        value=30_000,
        owner=alice,
        status=Deal.Status.WON,
    )


def _records(deal: Deal) -> list[Activity]:
    return list(deal.activities.filter(kind=Activity.Kind.SYSTEM).order_by("pk"))


def _edit(deal: Deal, changes: dict, by, reason: str = "") -> Deal:
    return services.update_deal(
        deal.pk, changes, by=by, expected_version=deal.version, reason=reason
    )


def test_a_rep_may_not_change_the_value_of_her_won_deal(won, alice):
    with pytest.raises(PermissionDenied, match="only a manager") as refused:
        _edit(won, {"value": Decimal(300_000)}, alice, reason="typo")

    assert refused.value.field == "value"
    won.refresh_from_db()
    assert (won.value, won.version, _records(won)) == (Decimal(30_000), 1, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "EUR"},
        {"organization": "Initech"},
        {"expected_close_date": "2026-01-31"},
    ],
)
def test_a_rep_may_change_no_field_of_a_closed_deal_the_figures_read(
    won, alice, bob, changes
):
    with pytest.raises(PermissionDenied, match="the figures read its"):
        _edit(won, changes, alice, reason="typo")


def test_a_rep_may_not_take_an_unowned_won_deal(pipeline, alice):
    won = make_deal(pipeline, "contract", owner=None, status=Deal.Status.WON)

    with pytest.raises(PermissionDenied, match="the figures read its owner,"):
        _edit(won, {"owner": "alice"}, alice, reason="mine")


def test_a_manager_corrects_the_value_of_a_teams_won_deal_with_a_reason(
    won, max_manager, now
):
    _edit(won, {"value": Decimal(300_000)}, max_manager, reason="  signed at 300k ")

    won.refresh_from_db()
    [record] = _records(won)
    assert won.value == Decimal(300_000)
    assert (record.by, record.at, record.done) == (max_manager, now, True)
    assert record.subject == (
        "Won deal edited by max: value 30000.00 → 300000.00. Reason: signed at 300k"
    )
    assert record.detail == {
        "edit": {"value": ["30000.00", "300000.00"]},
        "reason": "signed at 300k",
        "by": "max",
    }


def test_a_correction_without_a_reason_is_refused_naming_the_reason(won, max_manager):
    with pytest.raises(ValidationError, match="say why the won deal's value") as no:
        _edit(won, {"value": Decimal(300_000)}, max_manager, reason="")

    assert no.value.field == "reason"
    won.refresh_from_db()
    assert won.value == Decimal(30_000)


def test_a_reason_of_invisible_characters_is_no_reason(won, max_manager):
    with pytest.raises(ValidationError, match="no visible characters") as no:
        _edit(won, {"value": Decimal(300_000)}, max_manager, reason=" \u200b ")

    assert no.value.field == "reason"


def test_a_manager_of_another_team_may_not_correct_the_deal(won, django_user_model):
    other = django_user_model.objects.create_user(
        "mia", password=PASSWORD, role="manager"
    )

    with pytest.raises(PermissionDenied, match="outside your teams"):
        _edit(won, {"value": Decimal(1)}, other, reason="typo")


def test_an_admin_corrects_the_owner_recorded_by_username(won, olivia, bob):
    _edit(won, {"owner": "bob"}, olivia, reason="bob closed it")

    [record] = _records(won)
    assert record.detail["edit"] == {"owner": ["alice", "bob"]}
    assert "owner 'alice' → 'bob'" in record.subject


def test_a_rep_edits_the_notes_of_her_closed_deal_and_the_edit_is_recorded(won, alice):
    _edit(won, {"notes": "Signed by the CFO"}, alice)

    [record] = _records(won)
    assert record.by == alice
    assert record.detail == {
        "edit": {"notes": ["", "Signed by the CFO"]},
        "reason": "",
        "by": "alice",
    }


def test_an_edit_of_a_closed_deal_that_changes_nothing_records_nothing(won, alice):
    _edit(won, {"title": won.title}, alice)

    assert _records(won) == []


def test_an_edit_of_an_open_deal_is_not_recorded_and_takes_no_reason(pipeline, alice):
    deal = make_deal(pipeline, "inquiry", value=1_000, owner=alice)
    _edit(deal, {"value": Decimal(2_000)}, alice)

    assert _records(deal) == []
    with pytest.raises(ValidationError, match="is open") as refused:
        _edit(Deal.objects.get(pk=deal.pk), {"value": Decimal(3)}, alice, "typo")
    assert refused.value.field == "reason"


def test_no_criterion_counts_the_record_of_an_edit(won, max_manager, now):
    _edit(won, {"value": Decimal(300_000)}, max_manager, reason="typo")

    context = services.context_for(Deal.objects.get(pk=won.pk), now)

    assert context["activities"] == []


# -- the doors -------------------------------------------------------------


def test_the_api_refuses_a_reps_change_of_her_won_deals_value_naming_the_rule(
    client, won, alice
):
    client.login(username="alice", password=PASSWORD)

    answer = client.patch(
        f"/api/v1/deals/{won.pk}",
        {"version": won.version, "value": 300000, "reason": "typo"},
        content_type="application/json",
    )

    assert answer.status_code == 403
    assert "only a manager of its owner's team or an admin" in answer.json()["message"]
    won.refresh_from_db()
    assert won.value == Decimal(30_000)


def test_the_api_takes_a_managers_correction_with_its_reason(client, won, max_manager):
    client.login(username="max", password=PASSWORD)

    answer = client.patch(
        f"/api/v1/deals/{won.pk}",
        {"version": won.version, "value": 300000, "reason": "signed at 300k"},
        content_type="application/json",
    )

    assert answer.status_code == 200, answer.content
    assert _records(won)[0].detail["reason"] == "signed at 300k"


def test_the_api_asks_a_manager_for_the_reason(client, won, max_manager):
    client.login(username="max", password=PASSWORD)

    answer = client.patch(
        f"/api/v1/deals/{won.pk}",
        {"version": won.version, "value": 300000},
        content_type="application/json",
    )

    assert answer.status_code == 422
    assert answer.json()["field"] == "reason"


def test_the_deal_page_offers_a_rep_no_input_the_figures_read_on_a_won_deal(
    client, won, alice
):
    client.force_login(alice)

    page = client.get(reverse("deal", args=[won.pk]))

    html = page.content.decode()
    for name in ("value", "currency", "expected_close_date", "owner", "reason"):
        assert f'name="{name}"' not in html, name
    assert 'name="notes"' in html
    assert "only a manager of its owner's team or an admin corrects" in text_of(page)


def test_the_deal_page_keeps_a_reps_notes_edit_on_a_won_deal_and_its_value(
    client, won, alice
):
    client.force_login(alice)

    answer = client.post(
        reverse("deal-edit", args=[won.pk]),
        {
            "version": won.version,
            "title": won.title,
            "notes": "Signed",
            "value": "300000",
        },
    )

    assert answer.status_code == 302
    won.refresh_from_db()
    assert (won.notes, won.value) == ("Signed", Decimal(30_000))


def test_the_deal_page_asks_a_manager_for_the_reason_at_its_input(
    client, won, max_manager
):
    client.force_login(max_manager)
    posted = {"version": won.version, "title": won.title, "value": "300000"}
    posted.update(currency="USD", owner="alice")

    refused = client.post(reverse("deal-edit", args=[won.pk]), posted)
    saved = client.post(
        reverse("deal-edit", args=[won.pk]), {**posted, "reason": "signed at 300k"}
    )

    assert refused.status_code == 422
    assert "Reason for a correction" in text_of(refused)
    assert "say why the won deal's value change" in text_of(refused)
    assert saved.status_code == 302
    won.refresh_from_db()
    assert won.value == Decimal(300_000)
    page = text_of(client.get(reverse("deal", args=[won.pk])))
    assert "Won deal edited by max: value 30000.00 → 300000.00" in page


def _admin_form(deal: Deal, **changes) -> dict:
    data = {
        "title": deal.title,
        "value": str(deal.value),
        "currency": deal.currency,
        "expected_close_date": "",
        "notes": deal.notes,
        "custom": json.dumps(deal.custom),
        "checklist": json.dumps(deal.checklist),
        "owner": deal.owner_id or "",
        "organization": "",
        "contact": "",
        "product": "",
        "reason": "",
        "version": deal.version,
        "_save": "Save",
    }
    return {**data, **changes}


def test_the_admin_asks_for_the_reason_and_records_the_correction(won, olivia):
    olivia.is_staff = olivia.is_superuser = True
    olivia.save()
    admin = Client()
    admin.force_login(olivia)
    url = f"/admin/deals/deal/{won.pk}/change/"

    refused = admin.post(url, _admin_form(won, value="300000"))
    saved = admin.post(url, _admin_form(won, value="300000", reason="signed at 300k"))

    assert refused.status_code == 200
    assert "say why the won deal" in refused.content.decode()
    assert saved.status_code == 302
    [record] = _records(won)
    assert (record.by, record.detail["reason"]) == (olivia, "signed at 300k")
