"""Under `dealgate serve` a body that keeps trickling in, a byte at a time
and never pausing as long as the socket's timeout, is refused at
DEALGATE_BODY_WAIT (400), sent with its Content-Length or in chunks, by
sync workers and threads alike; the worker serves on, and a connection
whose body was cut is closed rather than read on."""

from __future__ import annotations

import contextlib
import http.client
import os
import select
import socket
import subprocess
import time

from tests.web.test_serve import (  # noqa: F401 - server_env is a fixture
    free_port,
    log_in,
    served,
    server_env,
)

LEADS = "/api/v1/leads"


def serving(env: dict[str, str], port: int, *args: str) -> subprocess.Popen:
    """`dealgate serve` with one worker and a BODY_WAIT of 0.5 s, listening."""
    return served(env, port, "--workers", "1", *args, DEALGATE_BODY_WAIT="0.5")


def trickled(port: int, framing: str, first: bytes) -> tuple[int, float, bytes]:
    """POST to the API `first`, then a byte of body every 0.1 s until the
    answer begins to come: never a pause as long as the socket's timeout,
    which is what is left of the 0.5 s at most, but 10 s for the 100 bytes.
    Then at once a request for the sign-in page on the same connection.
    The answer's status, how long it took to begin, and what came after."""
    head = (
        f"POST {LEADS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head.encode() + first)
        start = time.monotonic()
        while not select.select([conn], [], [], 0.1)[0]:
            if time.monotonic() - start > 3:
                raise AssertionError("the body was still read after 3 s of it")
            conn.sendall(b"x")
        took = time.monotonic() - start
        with contextlib.suppress(OSError):  # closed already
            conn.sendall(
                f"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            )
        response = http.client.HTTPResponse(conn)
        response.begin()
        response.read()
        after = b""
        # Reset: the server closed with the request unread.
        with contextlib.suppress(ConnectionResetError):
            while part := conn.recv(4096):
                after += part
    return response.status, took, after


def test_a_trickling_body_is_cut_at_the_wait_and_the_worker_serves_on(
    server_env,  # noqa: F811 - the fixture imported above
):
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = serving(server_env, port)
    try:
        sized = trickled(port, "Content-Length: 100", b"")
        chunked = trickled(port, "Transfer-Encoding: chunked", b"64\r\n")
        # The one worker is free again: a whole form signs in.
        signed_in = log_in(port)
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    for status, took, after in (sized, chunked):
        assert status == 400
        assert 0.5 <= took < 2
        assert after == b""
    assert signed_in == 302
    assert f"refused POST {LEADS}: its body of 100 bytes did not all come" in log
    assert f"refused POST {LEADS}: its chunked body did not all come" in log
    assert "Traceback" not in log


def test_threads_cut_a_trickling_body_and_close_its_connection(
    server_env,  # noqa: F811 - the fixture imported above
):
    # A thread keeps connections alive between requests: the rest of a cut
    # body, and what follows it, must not be read as a request.
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = serving(server_env, port, "--threads", "2")
    try:
        sized = trickled(port, "Content-Length: 100", b"")
        chunked = trickled(port, "Transfer-Encoding: chunked", b"64\r\n")
        signed_in = log_in(port)
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    for status, took, after in (sized, chunked):
        assert status == 400
        assert 0.5 <= took < 2
        assert after == b""
    assert signed_in == 302
    assert "Traceback" not in log
