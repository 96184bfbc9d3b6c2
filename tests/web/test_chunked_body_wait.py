"""A chunked body whose chunks stop coming is refused (400) once
DEALGATE_BODY_WAIT runs out, with one log line: a sync worker waiting on
it would otherwise be held until gunicorn kills it, with a 500 and a
traceback."""

from __future__ import annotations

import http.client
import io
import logging
import os
import socket

import pytest

from dealgate.web.bodies import _read_until_end
from tests.web.test_serve import (  # noqa: F401 - server_env is a fixture
    free_port,
    served,
    server_env,
)


class FakeSocket:
    """The connection's socket as gunicorn hands it on: only its timeout."""

    def __init__(self) -> None:
        self.timeout: float | None = None
        self.set: list[float | None] = []

    def gettimeout(self) -> float | None:
        return self.timeout

    def settimeout(self, value: float | None) -> None:
        self.set.append(value)
        self.timeout = value


class Stalled(io.RawIOBase):
    """A body whose next chunk never comes: the socket's timeout runs out."""

    def read(self, size: int = -1) -> bytes:
        raise TimeoutError("timed out")


def test_a_body_read_without_the_socket_is_read_as_before():
    assert _read_until_end(io.BytesIO(b"abc"), 10) == b"abc"


@pytest.mark.django_db
def test_chunks_that_stop_coming_are_a_400_logged_in_one_line(client, caplog):
    sock = FakeSocket()
    environ = {
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": Stalled(),
        "wsgi.input_terminated": True,
        "gunicorn.socket": sock,
    }

    with caplog.at_level(logging.INFO, logger="dealgate.web"):
        response = client.generic("POST", "/api/v1/leads", b"", **environ)

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request",
        "message": "the body's chunks did not all come within 10 seconds; "
        "send it again",
        "field": "body",
    }
    assert [r.getMessage() for r in caplog.records] == [
        "refused POST /api/v1/leads: its chunked body did not all come within 10 s"
    ]
    assert caplog.records[0].exc_info is None
    assert sock.timeout is None


def test_the_server_answers_a_stalled_chunked_body_with_a_400_and_no_traceback(
    server_env,  # noqa: F811 - the fixture imported above
):
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = served(server_env, port, "--workers", "1", DEALGATE_BODY_WAIT="0.5")
    try:
        head = (
            f"POST /api/v1/leads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            # One chunk of the body, then nothing more.
            conn.sendall(head.encode() + b'5\r\n{"a":\r\n')
            response = http.client.HTTPResponse(conn)
            response.begin()
            status = response.status
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    assert status == 400
    assert "its chunked body did not all come within 0.5 s" in log
    assert "Traceback" not in log
