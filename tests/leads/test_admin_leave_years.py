"""Leave entered in /admin/ keeps to the product's years (found by helper ray).

`dealgate leads away` refuses --from and --until outside 1901-2198 naming the
option (`core.dates`), as every other door refuses such a date; the admin's
Availability form stores them, so a typo (2199 for 2019, 0219) keeps a person
"away" in a year business time cannot count, or sends them leads during a
leave that the typo pushed past the range.
"""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-07-01 09:00:00", "2199-07-10 09:00:00", "away until"),
        ("2199-07-01 09:00:00", "2199-07-10 09:00:00", "away from"),
        ("0219-07-01 09:00:00", "2026-07-10 09:00:00", "away from"),
    ],
)
def test_leave_outside_the_products_years_is_refused_in_the_admin(
    admin, alice, start, end, field
):
    response = _post(admin, alice, start, end)

    assert response.status_code == 200
    assert "must lie between 1901 and 2198" in response.content.decode()
    assert not Availability.objects.exists()
