"""A fault of the server under /api/ answers in the API's error family: JSON,
500, no traceback in the body, the traceback in the log."""

import logging

import pytest

from dealgate.deals import services
from tests.conftest import PASSWORD

SECRET = "/srv/dealgate/settings.py line 12"


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def _failing(error: Exception):
    def fail(*args, **kwargs):
        raise error

    return fail


def _move(api):
    body = {"deals": [{"id": 1, "version": 1}], "to": "won"}
    return api.post("/api/v1/deals/bulk-move", body, content_type="application/json")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_json_500_without_its_traceback(
    api, monkeypatch, settings, caplog, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr(services, "move_deals", _failing(KeyError(SECRET)))

    with caplog.at_level(logging.ERROR, logger="dealgate.api"):
        response = _move(api)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["code"] == "server_error"
    assert SECRET not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "dealgate.api"]
    assert record.getMessage() == "POST /api/v1/deals/bulk-move failed: KeyError"
    assert record.exc_info[1].args == (SECRET,)


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/deals/abc"])
def test_an_unknown_api_address_is_a_json_404_in_the_error_family(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": f"no API endpoint at GET {path}",
    }


def test_an_unknown_page_outside_the_api_stays_djangos_own(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("delete", "/api/v1/deals", "GET, HEAD, POST"),
        ("delete", "/api/v1/deals/1", "GET, HEAD, PATCH"),
        ("put", "/api/v1/leads/1/convert", "POST"),
    ],
)
def test_a_method_an_api_address_does_not_take_is_a_json_405_with_allow(
    api, method, path, allowed
):
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "method_not_allowed",
        "message": f"{method.upper()} is not allowed at {path}; it takes {allowed}",
    }
    assert sorted(response["Allow"].split(", ")) == allowed.split(", ")


def test_an_unknown_api_address_is_json_with_debug_on_too(api, settings):
    settings.DEBUG = True

    response = api.get("/api/v1/nothing")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_request_django_refuses_before_the_api_is_a_json_400(client, db):
    response = client.get("/api/v1/deals/1", headers={"host": "evil.example"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request",
        "message": "the server refused this request (400 Bad Request)",
    }


def test_a_middleware_failing_under_the_api_is_a_json_500(api, monkeypatch):
    from django.contrib.messages.middleware import MessageMiddleware

    monkeypatch.setattr(
        MessageMiddleware, "process_request", _failing(KeyError(SECRET))
    )
    api.raise_request_exception = False  # answer as the server would

    response = api.get("/api/v1/deals/1")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert SECRET not in response.content.decode()


def test_a_refused_method_outside_the_api_stays_djangos_own(client, alice):
    client.force_login(alice)

    # PUT: a GET of a form's address leads to its page (web.form_addresses).
    response = client.put("/deals/1/edit/")

    assert response.status_code == 405
    assert not response["Content-Type"].startswith("application/json")
