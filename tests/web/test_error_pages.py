"""The site's own 400, 403, 404 and 500 pages: in its layout, in plain words,
with a way back (the board, or the sign-in when signed out), nothing of the
request in them, no inline script or style, and nothing of the app under
the website's lead form. The 500 page shows while the database is down.
DEBUG is off here, as pytest-django leaves it."""

from __future__ import annotations

import io
import re

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from tests.web.test_chunked_body_wait import FakeSocket

pytestmark = pytest.mark.django_db

FAILING_URLS = "tests.web.failing_urls"


def assert_site_page(response, status: int) -> str:
    """The page's text, after checking what every error page must hold."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" in response
    page = response.content.decode()
    assert "/static/dealgate/app.css" in page
    assert "/static/dealgate/favicon.svg" in page
    # Nothing the policy refuses: no inline style or script.
    assert not re.search(r"\sstyle=|<style|<script(?![^>]*\ssrc=)", page)
    assert "Traceback" not in page and "File " not in page
    return page


def test_a_missing_page_signed_out_says_so_and_offers_the_sign_in(client):
    response = client.get("/no-such-page/secret-name/")

    page = assert_site_page(response, 404)
    assert "There is no page here" in page
    assert f'<a href="{reverse("login")}">Sign in</a>' in page
    assert "secret-name" not in page
    assert 'aria-label="Main"' not in page


def test_a_missing_page_signed_in_offers_the_board_and_the_menu(client, alice):
    client.force_login(alice)

    response = client.get("/no-such-page/")

    page = assert_site_page(response, 404)
    assert "Back to the board" in page and 'aria-label="Main"' in page
    assert "Sign in" not in page


def test_a_missing_deal_gets_the_page_without_the_reason_given(client, alice):
    client.force_login(alice)

    response = client.get("/deals/987654/")

    page = assert_site_page(response, 404)
    assert "987654" not in page


def test_the_admins_missing_page_is_the_sites(client, admin):
    response = admin.get("/admin/no-such-model/")

    page = assert_site_page(response, 404)
    assert "There is no page here" in page


def test_a_missing_form_shows_a_stranger_nothing_of_the_app(client, alice):
    client.force_login(alice)  # even signed in: the address is the public form's

    response = client.get("/leads/form/no-such-pipeline/")

    page = assert_site_page(response, 404)
    assert "There is no form here" in page
    assert "topbar" not in page and "/login/" not in page
    assert "Back to the board" not in page
    assert "no-such-pipeline" not in page


def test_under_the_api_a_missing_address_still_answers_json(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_page_refused_to_someone_says_they_may_not_open_it(client, max_manager):
    # Staff without the admin's permissions: the admin refuses its pages.
    max_manager.is_staff = True
    max_manager.save()
    client.force_login(max_manager)

    response = client.get("/admin/accounts/user/")

    page = assert_site_page(response, 403)
    assert "You may not open this page" in page and "Back to the board" in page


def test_a_request_for_another_host_gets_the_bad_request_page(client):
    response = client.get("/", HTTP_HOST="evil.example")

    page = assert_site_page(response, 400)
    assert "This request could not be read" in page
    assert "evil.example" not in page


def test_a_form_too_large_on_the_website_form_shows_no_app(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post("/leads/form/any/", {"message": "x" * 5000})

    page = assert_site_page(response, 413)
    assert "larger than the 1 KB this site takes" in page
    assert "topbar" not in page and "/login/" not in page


def test_a_rep_opening_the_routing_rules_gets_the_sites_403(client, alice):
    client.force_login(alice)

    page = assert_site_page(client.get("/leads/routing/"), 403)

    assert "You may not open this page" in page and "Back to the board" in page


def test_a_control_character_in_the_query_gets_the_400_page_naming_it(client):
    page = assert_site_page(client.get("/login/?q=%00"), 400)

    assert "This request could not be read" in page
    assert "What was wrong: the query parameter q holds a control character" in page


def test_what_was_wrong_is_shown_as_text_never_as_markup(client, alice):
    client.force_login(alice)

    page = assert_site_page(client.get("/today/more/?section=<b>x</b>"), 400)

    assert "section must be one of" in page
    assert "<b>" not in page


def test_a_cut_off_body_on_the_website_form_gets_the_400_page_without_the_app(client):
    environ = {
        "CONTENT_LENGTH": "100",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": io.BytesIO(b"name=A"),
        "gunicorn.socket": FakeSocket(),
    }

    response = client.generic("POST", "/leads/form/any/", **environ)

    page = assert_site_page(response, 400)
    assert "the body ended after 6 of the 100 bytes" in page
    assert "topbar" not in page and "/login/" not in page


def refuse_every_query(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1 failed: refused")


@pytest.fixture
def failing(client, settings):
    settings.ROOT_URLCONF = FAILING_URLS
    client.raise_request_exception = False
    return client


def test_a_server_error_while_the_database_is_down_gets_the_sites_page(failing, alice):
    failing.force_login(alice)

    with connection.execute_wrapper(refuse_every_query):
        response = failing.get("/failing/")

    page = assert_site_page(response, 500)
    assert "Something went wrong on our side" in page
    assert "Back to the board" in page
    assert "127.0.0.1" not in page and "refused" not in page
    assert 'aria-label="Main"' not in page


def test_a_server_error_renders_without_a_single_query(
    failing, django_assert_num_queries
):
    # The view's own count is the one query; the page adds none.
    with (
        django_assert_num_queries(1),
        connection.execute_wrapper(refuse_every_query),
    ):
        response = failing.get("/failing/")

    assert_site_page(response, 500)


def test_a_server_error_on_the_website_form_shows_no_app(failing):
    with connection.execute_wrapper(refuse_every_query):
        response = failing.get("/leads/form/failing/")

    page = assert_site_page(response, 500)
    assert "topbar" not in page and "Back to the board" not in page


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("/pipelines/nope/", "no pipeline 'nope'"),
        ("/leads/report/?pipeline=nope", "no pipeline 'nope'"),
        ("/today/?person=nobody", "person: no one called 'nobody' in your view"),
    ],
)
def test_a_page_that_finds_nothing_says_what_it_did_not_find(
    client, olivia, pipeline, address, says
):
    client.force_login(olivia)

    page = assert_site_page(client.get(address), 404)

    assert "There is no page here" in page
    assert f"What was wrong: {says}" in " ".join(
        re.sub(r"<[^>]+>", " ", page).replace("&#x27;", "'").split()
    )
