"""A body sent with its Content-Length that stops coming is refused (400)
once DEALGATE_BODY_WAIT runs out, with one log line, instead of holding a
sync worker until gunicorn kills it; one that ends before its length is
refused too. Without gunicorn's socket a body is left as it came."""

from __future__ import annotations

import http.client
import io
import logging
import os
import socket
from urllib.parse import urlencode

import pytest

from tests.conftest import PASSWORD
from tests.web.test_chunked_body_wait import FakeSocket, Stalled
from tests.web.test_serve import (  # noqa: F401 - server_env is a fixture
    free_port,
    log_in,
    served,
    server_env,
)

LEADS = "/api/v1/leads"


def sized(body: io.RawIOBase, length: int, sock: FakeSocket | None, kind: str) -> dict:
    """A request's environ as gunicorn hands on a body of `length` bytes of
    type `kind`."""
    environ = {
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": kind,
        "wsgi.input": body,
    }
    if sock is not None:
        environ["gunicorn.socket"] = sock
    return environ


@pytest.mark.django_db
def test_a_body_that_stops_coming_is_a_400_logged_in_one_line(client, caplog):
    sock = FakeSocket()

    with caplog.at_level(logging.INFO, logger="dealgate.web"):
        response = client.generic(
            "POST",
            LEADS,
            **sized(Stalled(), 100, sock, "application/json"),
        )

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request",
        "message": "the body did not all come within 10 seconds; send it again",
        "field": "body",
    }
    assert [r.getMessage() for r in caplog.records] == [
        f"refused POST {LEADS}: its body of 100 bytes did not all come within 10 s"
    ]
    assert 9 < sock.set[0] <= 10 and sock.timeout is None


@pytest.mark.django_db
def test_a_page_whose_form_stops_coming_gets_the_sites_400_page_saying_so(client):
    response = client.generic(
        "POST",
        "/login/",
        **sized(Stalled(), 100, FakeSocket(), "application/x-www-form-urlencoded"),
    )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "This request could not be read" in page
    assert "did not all come within 10 seconds" in page


@pytest.mark.django_db
def test_a_body_that_ends_before_its_length_is_refused_not_read_short(client):
    response = client.generic(
        "POST",
        LEADS,
        **sized(
            io.BytesIO(b'{"email": "a@example.com"}'),
            100,
            FakeSocket(),
            "application/json",
        ),
    )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "the body ended after 26 of the 100 bytes its Content-Length says; "
        "send it again"
    )


@pytest.mark.django_db
def test_a_whole_body_is_read_and_handed_on(client, alice):
    form = urlencode({"username": "alice", "password": PASSWORD}).encode()
    sock = FakeSocket()

    response = client.generic(
        "POST",
        "/login/",
        **sized(io.BytesIO(form), len(form), sock, "application/x-www-form-urlencoded"),
    )

    assert response.status_code == 302  # signed in: the form was read whole
    assert 9 < sock.set[0] <= 10 and sock.timeout is None


@pytest.mark.django_db
def test_without_gunicorns_socket_a_body_is_left_as_it_came(client):
    # Read later by Django as it always was: no deadline, no refusal here.
    body = io.BytesIO(b"{}")

    client.generic("POST", LEADS, **sized(body, 2, None, "application/json"))

    # Nothing read it before the API refused the request unsigned.
    assert body.tell() == 0


@pytest.mark.django_db
def test_a_multipart_body_past_the_limit_is_refused_unread(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = io.BytesIO(b"--x\r\n" * 1000)

    response = client.generic(
        "POST",
        LEADS,
        **sized(body, 5000, FakeSocket(), "multipart/form-data; boundary=x"),
    )

    assert response.status_code == 422
    assert (
        "5,000 bytes, more than the server takes (1,024 at most)"
        in (response.json()["message"])
    )
    assert body.tell() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "length", "says"),
    [
        ("POST", LEADS, 70_000, "the body is 70,000 bytes; the limit is 65,536"),
        ("POST", LEADS, 1_000_000, "the body is 1,000,000 bytes; the limit is 65,536"),
        (
            "PATCH",
            f"{LEADS}/5",
            70_000,
            "the body is 70,000 bytes; the limit is 65,536",
        ),
        (
            "POST",
            "/api/v1/deals",
            3_000_000,
            "the body is 3,000,000 bytes, more than the server takes (2,621,440 at "
            "most)",
        ),
    ],
)
def test_a_body_declared_past_its_addresss_limit_is_refused_before_any_is_read(
    client, method, path, length, says
):
    # A read of this body would wait, then refuse it with a 400.
    response = client.generic(
        method, path, **sized(Stalled(), length, FakeSocket(), "application/json")
    )

    assert response.status_code == 422
    assert response.json() == {"code": "invalid", "message": says, "field": "body"}


@pytest.mark.django_db
def test_a_body_within_its_addresss_limit_is_read_though_past_another_one(client):
    response = client.generic(
        "POST",
        "/api/v1/deals",
        **sized(Stalled(), 70_000, FakeSocket(), "application/json"),
    )

    assert response.status_code == 400  # waited for, not refused on its length


@pytest.mark.django_db
def test_a_form_declared_past_the_upload_limit_gets_the_sites_413_unread(client):
    response = client.generic(
        "POST",
        "/login/",
        **sized(
            Stalled(), 3_000_000, FakeSocket(), "application/x-www-form-urlencoded"
        ),
    )

    assert response.status_code == 413
    assert "larger than the 2,560 KB this site takes" in response.content.decode()


def test_the_server_answers_a_stalled_sized_body_with_a_400_and_goes_on(
    server_env,  # noqa: F811 - the fixture imported above
):
    # DEALGATE_TEST_PORT: a port set aside for this test on a shared machine.
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = served(server_env, port, "--workers", "1", DEALGATE_BODY_WAIT="0.5")
    try:
        head = (
            f"POST {LEADS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            # Ten of the hundred bytes announced, then nothing more.
            conn.sendall(head.encode() + b'{"email": ')
            response = http.client.HTTPResponse(conn)
            response.begin()
            status = response.status
        # The one worker is free again: a whole form signs in.
        signed_in = log_in(port)
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    assert status == 400
    assert signed_in == 302
    assert f"refused POST {LEADS}: its body of 100 bytes did not all come" in log
    assert "Traceback" not in log
