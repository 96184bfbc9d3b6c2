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
