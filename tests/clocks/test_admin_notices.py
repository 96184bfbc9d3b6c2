"""Notices and their deliveries in the admin at /admin/, as a superuser: the
record of what was told to whom is shown, never added, changed or deleted
there; it goes only with the person it was told to."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.accounts.models import User
from dealgate.clocks.models import Delivery, Notice

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def delivery(bob) -> Delivery:
    notice = Notice.objects.create(
        user=bob,
        kind=Notice.Kind.INFO,
        title="A lead is yours",
        url="/leads/1/",
        created_at=T0,
    )
    return Delivery.objects.create(
        notice=notice, channel=Delivery.Channel.EMAIL, next_attempt_at=T0
    )


@pytest.mark.parametrize("model", ["notice", "delivery"])
def test_notices_and_deliveries_are_shown_but_never_changed_in_the_admin(
    admin, delivery, model
):
    row = delivery.notice if model == "notice" else delivery
    base = f"/admin/clocks/{model}/"

    assert admin.get(base).status_code == 200
    assert admin.get(f"{base}{row.pk}/change/").status_code == 200
    edit = {"title": "Nothing happened", "state": "sent", "attempts": 0}
    assert admin.post(f"{base}{row.pk}/change/", edit).status_code == 403
    assert admin.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get(f"{base}add/").status_code == 403
    delivery.refresh_from_db()
    delivery.notice.refresh_from_db()
    assert (delivery.state, delivery.notice.title) == ("pending", "A lead is yours")


def test_delete_selected_deletes_no_notice(admin, delivery):
    answer = admin.post(
        "/admin/clocks/notice/",
        {
            "action": "delete_selected",
            "_selected_action": [delivery.notice_id],
            "post": "yes",
        },
    )

    assert answer.status_code in (200, 302)
    assert Notice.objects.filter(pk=delivery.notice_id).exists()


def test_a_person_nothing_else_names_is_deleted_with_what_they_were_told(
    admin, delivery, bob
):
    answer = admin.post(f"/admin/accounts/user/{bob.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()
    assert not Notice.objects.filter(pk=delivery.notice_id).exists()
    assert not Delivery.objects.filter(pk=delivery.pk).exists()


def test_the_admin_names_deliveries_in_the_plural_correctly(admin):
    page = admin.get("/admin/").content.decode()

    assert "Deliveries" in page and "Deliverys" not in page
