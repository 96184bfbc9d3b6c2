"""A role changed on a person's page in /admin/ is the whole of their role:
an admin demoted to rep there keeps no admin door open, as `dealgate user
set NAME --role rep` keeps none."""

from __future__ import annotations

from django.test import Client

from dealgate.accounts.models import User


def change_form(user: User, **changes: str) -> dict[str, str]:
    """The fields the admin's change page posts for `user`, as it shows them."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "role": user.role,
        "team": "",
        "calendar": "{}",
        "initial-calendar": "{}",
        "_save": "Save",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    if user.is_superuser:
        data["is_superuser"] = "on"
    data.update(changes)
    return data


def test_an_admin_demoted_to_rep_in_the_admin_can_no_longer_open_it(
    db, django_user_model, olivia
):
    olivia.is_staff = olivia.is_superuser = True
    olivia.save()
    owner = Client()
    owner.force_login(olivia)
    dora = django_user_model.objects.create_user(
        username="dora", password="x-pass-123", role="admin"
    )
    dora.is_staff = dora.is_superuser = True  # as `dealgate user add --role admin`
    dora.save()

    answer = owner.post(
        f"/admin/accounts/user/{dora.pk}/change/", change_form(dora, role="rep")
    )
    assert answer.status_code == 302
    dora.refresh_from_db()
    assert dora.role == "rep"

    as_dora = Client()
    as_dora.force_login(dora)
    assert as_dora.get("/admin/").status_code == 302  # to the admin's sign-in
    assert as_dora.get("/leads/routing/").status_code == 403
