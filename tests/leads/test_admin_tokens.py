"""API tokens in the admin at /admin/, as a superuser: a token keeps its
person and a revoked one stays revoked; the admin revokes through the same
service as `dealgate token revoke`."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import create_token, revoke_token

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


def test_a_token_is_neither_handed_to_another_person_nor_unrevoked_in_the_admin(
    admin, alice, bob
):
    token, _ = create_token(alice, "website form")
    revoke_token(token.pk)

    answer = admin.post(
        f"/admin/leads/apitoken/{token.pk}/change/",
        {"name": "renamed", "user": bob.pk, "revoked_at_0": "", "revoked_at_1": ""},
    )

    assert answer.status_code == 302
    token.refresh_from_db()
    assert (token.name, token.user, token.revoked_at) == ("renamed", alice, T0)


def test_the_admin_revokes_selected_tokens_through_the_service(admin, alice):
    token, _ = create_token(alice, "website form")

    answer = admin.post(
        "/admin/leads/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )

    token.refresh_from_db()
    assert token.revoked_at == T0
    assert "1 API token(s) revoked." in answer.content.decode()
    assert ApiToken.objects.count() == 1


def test_the_admin_shows_each_tokens_scope_and_never_widens_it(admin, alice):
    token, _ = create_token(alice, "website form")
    create_token(alice, "crm sync", scope="leads,deals")
    create_token(alice, "crm", scope="leads")

    listing = admin.get("/admin/leads/apitoken/").content.decode()
    answer = admin.post(
        f"/admin/leads/apitoken/{token.pk}/change/",
        {"name": "website form", "scope": "leads,deals"},
    )
    page = admin.get(f"/admin/leads/apitoken/{token.pk}/change/").content.decode()

    assert '<td class="field-scope">capture</td>' in listing
    assert '<td class="field-scope">leads</td>' in listing
    assert '<td class="field-scope">leads, deals</td>' in listing
    assert answer.status_code == 302
    token.refresh_from_db()
    assert token.scope == "capture"
    assert 'name="scope"' not in page
    assert '<div class="readonly">capture</div>' in page
