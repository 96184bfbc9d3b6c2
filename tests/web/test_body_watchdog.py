"""DEALGATE_BODY_WAIT is the limit on a whole body under gunicorn, whose
reader gathers a body over as many socket reads as it takes, each waiting
the whole socket timeout: the worker's watchdog shuts the socket's read
side at the deadline, and never once the body is read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from dealgate.web.bodies import BodyTimedOut, Watchdog, _read_until_end


class Clock:
    """Injected time for the reader and the watchdog alike. `watched` is set
    at its second reading: by then the reader has set its deadline and is
    watched (its first reading, then the watch, then any other)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.calls = 0
        self.watched = threading.Event()

    def __call__(self) -> float:
        self.calls += 1
        if self.calls == 2:
            self.watched.set()
        return self.now


def shut_for_reading(sock: socket.socket) -> bool:
    """Whether `sock`'s read side is shut: a read returns at once, empty,
    where it would otherwise wait."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


def cut_while_gunicorn_reads(
    body: Body, server: socket.socket, client: socket.socket, sent: list[bytes]
) -> bytes:
    """Read `body` from `server` as the middleware does, with a BODY_WAIT of
    10 s, while the client sends `sent` a piece at a time and then the 10 s
    pass: the watchdog's due cut runs, and what the read gives is returned
    (or raised)."""
    clock = Clock()
    watchdog = Watchdog(clock)
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(
            _read_until_end, body, 10_000, server, 10, clock, watchdog
        )
        assert clock.watched.wait(5)
        for piece in sent:
            client.sendall(piece)
            clock.now += 3  # each piece well within gunicorn's socket timeout
        clock.now += 1
        watchdog.cut_due()
        return reading.result(timeout=5)


@pytest.fixture
def connection():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_sized_body_trickling_into_gunicorns_reader_is_cut_at_the_deadline(
    connection,
):
    # gunicorn's reader gathers the 100 bytes over as many socket reads as
    # they take, each given the whole socket timeout: only the deadline's
    # cut ends its wait.
    server, client = connection
    body = Body(LengthReader(SocketUnreader(server), 100))

    with pytest.raises(BodyTimedOut):
        cut_while_gunicorn_reads(body, server, client, [b"{", b'"', b"e"])

    assert shut_for_reading(server)
    # gunicorn then closes the connection rather than read the rest of the
    # body as the next request; the answer can still be written.
    assert body.failed is True
    server.sendall(b"HTTP/1.1 400 Bad Request\r\n")
    assert client.recv(100) == b"HTTP/1.1 400 Bad Request\r\n"
    assert server.gettimeout() is None


def test_a_chunked_body_trickling_into_gunicorns_reader_is_cut_at_the_deadline(
    connection,
):
    server, client = connection
    body = Body(ChunkedReader(SimpleNamespace(), SocketUnreader(server)))

    with pytest.raises(BodyTimedOut):
        cut_while_gunicorn_reads(body, server, client, [b"64\r\n", b"{", b'"'])

    assert shut_for_reading(server)
    assert body.failed is True


def test_a_body_read_in_time_leaves_its_connection_to_the_next_request(connection):
    server, client = connection
    clock = Clock()
    watchdog = Watchdog(clock)
    client.sendall(b'{"a": 1}GET / HTTP/1.1\r\n')
    body = Body(LengthReader(SocketUnreader(server), 8))

    assert _read_until_end(body, 7, server, 10, clock, watchdog) == b'{"a": 1}'
    clock.now += 3600
    assert watchdog.cut_due() == 0

    # Kept alive, the connection reads its next request; no cut comes later.
    assert not shut_for_reading(server)
    assert body.reader.unreader.read() == b"GET / HTTP/1.1\r\n"


def test_the_watchdog_cuts_only_what_is_due_soonest_first():
    pairs = [socket.socketpair() for _ in range(3)]
    clock = Clock()
    watchdog = Watchdog(clock)
    try:
        late = watchdog.watch(pairs[0][0], 120)
        soon = watchdog.watch(pairs[1][0], 105)
        ended = watchdog.watch(pairs[2][0], 101)
        assert ended.end() is False

        clock.now = 110
        # The watchdog's own thread, woken by a real second, may cut first:
        # what was cut is read from the sockets below, not from the count.
        watchdog.cut_due()

        assert [shut_for_reading(server) for server, _ in pairs] == [
            False,
            True,
            False,
        ]
        assert soon.end() is True  # cut first: the body is refused
        assert late.end() is False
    finally:
        for server, client in pairs:
            server.close()
            client.close()


def test_a_cut_watch_writes_its_farewell_first_and_an_ended_one_nothing():
    pairs = [socket.socketpair() for _ in range(2)]
    clock = Clock()
    watchdog = Watchdog(clock)
    try:
        cut = watchdog.watch(pairs[0][0], 105, farewell=b"HTTP/1.1 408 ...")
        ended = watchdog.watch(pairs[1][0], 105, farewell=b"HTTP/1.1 408 ...")
        assert ended.end() is False

        clock.now = 110
        # The watchdog's own thread, woken by a real second, may cut first:
        # what was cut is read from the sockets below, not from the count.
        watchdog.cut_due()

        pairs[1][0].close()  # the worker closes it, having read it
        assert pairs[0][1].recv(100) == b"HTTP/1.1 408 ..."
        assert pairs[1][1].recv(100) == b""
        assert shut_for_reading(pairs[0][0])
        assert cut.end() is True
    finally:
        for server, client in pairs:
            server.close()
            client.close()


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dealgate.settings"},
        capture_output=True,
        text=True,
        timeout=15,
    )


def test_a_worker_exits_with_a_body_still_watched():
    # The watchdog's thread, asleep until an hour from now, holds no one up.
    done = run_python(
        "import socket, time\n"
        "from dealgate.web.bodies import shared_watchdog\n"
        "server, client = socket.socketpair()\n"
        "shared_watchdog().watch(server, time.monotonic() + 3600)\n"
        "print('watched')\n"
    )

    assert (done.returncode, done.stdout, done.stderr) == (0, "watched\n", "")


def test_a_forked_worker_watches_with_its_own_thread():
    # gunicorn forks its workers from the master: a watchdog made before the
    # fork has no thread in the worker, which must make its own.
    done = run_python(
        "import os, socket, time\n"
        "from dealgate.web.bodies import shared_watchdog\n"
        "before = shared_watchdog()\n"
        "before.watch(socket.socketpair()[0], time.monotonic() + 3600)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    server, client = socket.socketpair()\n"
        "    server.settimeout(5)\n"
        "    shared_watchdog().watch(server, time.monotonic())\n"
        "    os._exit(0 if server.recv(1) == b'' else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )

    assert (done.stdout, done.stderr) == ("0\n", "")
