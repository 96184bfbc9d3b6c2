"""Places taken from a request (a form's `back`, the sign-in's and sign-out's
`next`) are followed only when they are on this site, by one rule
(dealgate.web.redirects); anything else sends the browser to the page's own
default, never to another site."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from dealgate.leads import assign
from dealgate.leads.models import DedupDecision
from dealgate.leads.services import capture_lead, split_lead
from dealgate.web.redirects import local_target
from tests.conftest import PASSWORD
from tests.leads.conftest import CENTRAL_RULES, inquiry

ELSEWHERE = [
    "https://evil.example/steal",
    "//evil.example/steal",
    "/\\evil.example/steal",
    "\\\\evil.example",
    "http://evil.example",
    "javascript:alert(1)",
    "https://testserver.evil.example/",
    " https://evil.example/",
]


def _request(secure: bool = False):
    return RequestFactory().get("/", secure=secure)


@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_place_on_another_site_gives_the_default(target):
    assert local_target(_request(), target, "/home/") == "/home/"


@pytest.mark.parametrize("target", ["", None])
def test_no_place_named_gives_the_default(target):
    assert local_target(_request(), target, "/home/") == "/home/"


@pytest.mark.parametrize(
    "target", ["/leads/decisions/", "/leads/?page=2", "http://testserver/deals/1/"]
)
def test_a_place_on_this_site_is_followed(target):
    assert local_target(_request(), target, "/home/") == target


def test_a_plain_http_address_is_refused_to_a_request_over_https():
    secure = _request(secure=True)

    assert local_target(secure, "http://testserver/deals/1/", "/") == "/"
    assert local_target(secure, "https://testserver/deals/1/", "/") == (
        "https://testserver/deals/1/"
    )


# The refused split: the page that found the fault with a POSTed `back`.


@pytest.fixture
def split_once(pipeline, alice, bob, olivia, now) -> DedupDecision:
    """A repeat inquiry attached to alice's lead and split already, so a
    second split is refused with a conflict."""
    assign.forget_cached()
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    capture_lead(inquiry(1), source="api")
    decision = capture_lead(inquiry(1, message="Again"), source="form").decision
    split_lead(decision.pk, by=alice)
    return decision


def _split_again(client, decision: DedupDecision, back: str):
    return client.post(f"/leads/decisions/{decision.pk}/split/", {"back": back})


@pytest.mark.django_db
@pytest.mark.parametrize("back", ELSEWHERE)
def test_a_refused_split_never_sends_the_browser_to_another_site(
    client, split_once, alice, back
):
    client.force_login(alice)

    response = _split_again(client, split_once, back)

    assert response.status_code == 302
    assert response["Location"] == "/leads/decisions/"


@pytest.mark.django_db
def test_a_refused_split_goes_back_to_the_page_on_this_site_it_came_from(
    client, split_once, alice
):
    client.force_login(alice)

    response = _split_again(client, split_once, f"/leads/{split_once.lead_id}/")

    assert response["Location"] == f"/leads/{split_once.lead_id}/"


# Sign-in and sign-out.


@pytest.mark.django_db
@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_in_with_next_elsewhere_lands_on_the_board(client, alice, target):
    response = client.post(
        "/login/", {"username": "alice", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_signing_in_with_next_on_this_site_lands_there(client, alice):
    response = client.post(
        "/login/?next=/leads/", {"username": "alice", "password": PASSWORD}
    )

    assert response["Location"] == "/leads/"


@pytest.mark.django_db
def test_the_sign_in_page_does_not_carry_a_next_elsewhere(client):
    page = client.get("/login/?next=https://evil.example/").content.decode()

    assert "evil.example" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_out_with_next_elsewhere_lands_on_the_sign_in_page(
    client, alice, target
):
    client.force_login(alice)

    response = client.post("/logout/", {"next": target})

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signing_out_with_next_on_this_site_lands_there(client, alice):
    client.force_login(alice)

    response = client.post("/logout/", {"next": "/leads/"})

    assert response["Location"] == "/leads/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", ELSEWHERE)
def test_the_admins_sign_in_with_next_elsewhere_stays_on_this_site(
    client, olivia, target
):
    # The admin's own sign-in is Django's LoginView, which checks `next` by
    # the same rule; pinned here so that it stays so.
    olivia.is_staff = olivia.is_superuser = True
    olivia.save()

    response = client.post(
        "/admin/login/", {"username": "olivia", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
