"""A webhook URL with a user and password in it (`https://user:pw@host/...`)
is posted to the host alone, the pair sent as HTTP Basic authentication, and
neither the password nor its encoding ever reaches a stored error or the log.
No network: urllib's opener is replaced by one that records the request."""

from __future__ import annotations

import base64
import urllib.request

import pytest

from dealgate.clocks import outbox
from dealgate.clocks.models import Delivery, Notice
from dealgate.clocks.notices import notify
from dealgate.clocks.outbox import WebhookSender, deliver_due, split_credentials
from tests.conftest import NOW

URL = "http://hook%40user:pa%3Ass-Zq81@127.0.0.1:8195/hooks/T0-token"


class Answer:
    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self) -> bytes:
        return b"ok"


@pytest.fixture
def posted(monkeypatch) -> list[urllib.request.Request]:
    requests: list[urllib.request.Request] = []

    def urlopen(request, timeout):
        requests.append(request)
        return Answer()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requests


def test_the_user_and_password_leave_the_address_for_basic_authentication():
    bare, headers = split_credentials(URL)

    assert bare == "http://127.0.0.1:8195/hooks/T0-token"
    scheme, token = headers["Authorization"].split()
    assert (scheme, base64.b64decode(token).decode()) == (
        "Basic",
        "hook@user:pa:ss-Zq81",
    )


def test_a_url_without_credentials_is_left_as_it_is():
    url = "https://hooks.example.com/services/T0/B1/x"

    assert split_credentials(url) == (url, {})


def test_the_post_goes_to_the_host_with_basic_authentication(alice, settings, posted):
    settings.SMTP_HOST = ""
    settings.WEBHOOK_URL = URL
    notify(alice, kind=Notice.Kind.BREACH, title="Over the age limit: Acme", at=NOW)

    result = deliver_due(now=NOW)

    assert result.sent == 1
    (request,) = posted
    assert request.full_url == "http://127.0.0.1:8195/hooks/T0-token"
    assert request.host == "127.0.0.1:8195"
    assert request.get_header("Authorization").startswith("Basic ")
    assert WebhookSender().where == "webhook at 127.0.0.1"


def test_an_error_quoting_the_password_is_stored_without_it(
    alice, settings, monkeypatch
):
    settings.SMTP_HOST = ""
    settings.WEBHOOK_URL = URL
    _, headers = split_credentials(URL)
    token = headers["Authorization"].split()[1]

    def send(self, item):
        raise RuntimeError(f"boom pa%3Ass-Zq81 pa:ss-Zq81 {token} {URL}")

    monkeypatch.setattr(outbox.WebhookSender, "send", send)
    notify(alice, kind=Notice.Kind.BREACH, title="Over the age limit: Acme", at=NOW)

    deliver_due(now=NOW)

    error = Delivery.objects.get().last_error
    assert error.startswith("RuntimeError: boom ")
    for secret in ("Zq81", token, "T0-token"):
        assert secret not in error
