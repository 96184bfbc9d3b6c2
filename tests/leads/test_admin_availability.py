"""Leave entered in the admin: it must end after it starts, or it would
never apply and routing would go on sending the person leads."""

from __future__ import annotations

from django.test import Client

from dealgate.leads.models import Availability


def _post(admin: Client, user, start: str, end: str):
    return admin.post(
        "/admin/leads/availability/add/",
        {
            "user": user.pk,
            "away_from_0": start[:10],
            "away_from_1": start[11:],
            "away_until_0": end[:10],
            "away_until_1": end[11:],
            "capacity": "",
            "note": "",
        },
    )


def test_leave_ending_before_it_starts_is_refused_at_its_end(admin, alice):
    response = _post(admin, alice, "2026-07-10 09:00:00", "2026-07-01 09:00:00")

    assert response.status_code == 200
    assert "must be after away from" in response.content.decode()
    assert not Availability.objects.exists()


def test_leave_with_an_end_after_its_start_is_saved(admin, alice):
    response = _post(admin, alice, "2026-07-01 09:00:00", "2026-07-10 09:00:00")

    assert response.status_code == 302
    assert Availability.objects.get().user == alice
