"""Under `dealgate serve` a request whose headers do not all come within
DEALGATE_HEADER_WAIT, a header line now and then or nothing at all, is
answered 408 and its connection closed, by sync workers and threads alike;
the worker is not killed and serves on."""

from __future__ import annotations

import http.client
import os
import select
import socket
import subprocess
import time

from tests.web.test_serve import (  # noqa: F401 - server_env is a fixture
    free_port,
    get,
    served,
    server_env,
)


def serving(env: dict[str, str], port: int, *args: str) -> subprocess.Popen:
    """`dealgate serve` with a HEADER_WAIT of 0.5 s, listening."""
    return served(env, port, *args, DEALGATE_HEADER_WAIT="0.5")


def trickled(conn: socket.socket, first: bytes, line: bytes) -> tuple[int, float]:
    """Send `first`, then `line` every 0.1 s until the answer begins to come
    (never, with no `line`: nothing more is sent). Its status and how long
    it took to begin."""
    conn.sendall(first)
    start = time.monotonic()
    while not select.select([conn], [], [], 0.1)[0]:
        if time.monotonic() - start > 3:
            raise AssertionError("the headers were still read after 3 s of them")
        if line:
            conn.sendall(line)
    took = time.monotonic() - start
    response = http.client.HTTPResponse(conn)
    response.begin()
    response.read()
    return response.status, took


def slow_headers(port: int, line: bytes = b"X-a: b\r\n") -> tuple[int, float, bytes]:
    """A GET of the sign-in page whose headers come a line at a time; its
    status, how long it took to begin, and anything after the answer."""
    first = f"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        status, took = trickled(conn, first, line)
        after = conn.recv(4096)
    return status, took, after


def test_slow_headers_get_408_at_the_wait_and_the_worker_serves_on(
    server_env,  # noqa: F811 - the fixture imported above
):
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = serving(server_env, port, "--workers", "1")
    try:
        trickling = slow_headers(port)
        silent = slow_headers(port, line=b"")
        page = get(port, "/login/")
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    for status, took, after in (trickling, silent):
        assert status == 408
        assert 0.5 <= took < 2
        assert after == b""  # closed
    assert page.status == 200
    assert (
        "closed the connection from 127.0.0.1: its request's headers did not all "
        "come within 0.5 s (DEALGATE_HEADER_WAIT), answered 408"
    ) in log
    assert "SIGKILL" not in log and "Traceback" not in log


def test_threads_bound_the_headers_of_new_and_kept_alive_connections(
    server_env,  # noqa: F811 - the fixture imported above
):
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = serving(server_env, port, "--workers", "1", "--threads", "2")
    request = f"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    try:
        # More slow clients than threads, at once: each is cut at the wait.
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5)]
        conns += [socket.create_connection(("127.0.0.1", port), timeout=5)]
        conns += [socket.create_connection(("127.0.0.1", port), timeout=5)]
        for conn in conns:
            conn.sendall(request)
        answers = []
        for conn in conns:
            with conn:
                answers.append(trickled(conn, b"", b"X-a: b\r\n")[0])
        # A kept-alive connection's next request is bounded too, and its
        # first was served whole.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            served = trickled(conn, request + b"\r\n", b"")[0]
            kept = trickled(conn, request, b"X-a: b\r\n")
        page = get(port, "/login/")
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    assert answers == [408, 408, 408]
    assert served == 200
    assert kept[0] == 408 and 0.5 <= kept[1] < 2
    assert page.status == 200
    assert "Traceback" not in log
