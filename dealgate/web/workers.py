"""gunicorn's sync and gthread workers with a deadline on a request's
headers, which `dealgate serve` runs.

gunicorn reads a request's line and headers from the client with no limit
of its own: a sync worker waits on the socket for as long as the client
keeps sending, a header line every few seconds, and serves no one else
until gunicorn kills it at its timeout (30 s, logged as if it had run out
of memory); a gthread worker's thread is held the same way, for as long as
the client likes. Two such connections stopped a two-worker site.

These workers watch the client's socket with the process's watchdog
(dealgate.web.bodies) from the moment they take the connection, and end the
watch once the headers are read, just before the application is called.
A request whose headers are not all in within HEADER_WAIT seconds gets a
408 and its socket's read side shut: the read waiting on it ends at once,
and the worker closes the connection and serves on, with one line at INFO.
What comes after the headers is BODY_WAIT's (bodies.py).

Where the watch starts: a sync worker serves one request per connection,
from its acceptance. A gthread worker starts it when a thread takes the
connection: at once for a new connection, or when a kept-alive one (or one
gunicorn set aside after 5 s of silence) has sent its next byte; the
connection's idle time in the poller is gunicorn's keep-alive timeout's, not
this deadline's, and holds no thread. The watch always ends before the
thread hands the connection back, so a connection waiting in the poller is
never cut.

Not watched: a TLS socket (gunicorn's own `certfile`, which `dealgate serve`
does not set), whose shutdown would drop its encryption, and HTTP/2, which
`dealgate serve` does not turn on.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from django.conf import settings
from gunicorn.workers import gthread, sync

from .bodies import Watch, shared_watchdog

log = logging.getLogger("dealgate.web")


def farewell(wait: float) -> bytes:
    """The 408 written to a client whose headers did not come within `wait`
    seconds, closing the connection."""
    text = (
        f"The request's headers did not all arrive within {wait:g} seconds; "
        "send it again.\n"
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(text)}\r\n\r\n"
    ).encode()
    return head + text


def watch_headers(sock: Any, tls: bool) -> Watch | None:
    """Watch `sock` for HEADER_WAIT seconds from now, or None for a socket
    that cannot be watched (TLS, or no plain socket)."""
    if tls or type(sock) is not socket.socket:
        return None
    wait = settings.HEADER_WAIT
    return shared_watchdog().watch(sock, time.monotonic() + wait, farewell(wait))


def headers_late(watch: Watch | None) -> bool:
    """End `watch`, the headers being read; whether its deadline came first,
    in which case the 408 is sent and the request must not be served."""
    return watch is not None and watch.end()


def forget(watch: Watch | None, client: Any) -> None:
    """End `watch` as the connection leaves the worker's hands, logging a
    connection it cut."""
    if not headers_late(watch):
        return
    where = client[0] if isinstance(client, tuple) else "a Unix socket"
    log.info(
        "closed the connection from %s: its request's headers did not all "
        "come within %g s (DEALGATE_HEADER_WAIT), answered 408",
        where,
        settings.HEADER_WAIT,
    )


class SyncWorker(sync.SyncWorker):
    """gunicorn's sync worker, with a deadline on each request's headers."""

    _headers: Watch | None = None

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self._headers = watch_headers(client, self.cfg.is_ssl)
        try:
            super().handle(listener, client, addr)
        finally:
            forget(self._headers, addr)
            self._headers = None

    def handle_request(self, listener: Any, req: Any, client: Any, addr: Any) -> None:
        if headers_late(self._headers):
            # gunicorn's handle() closes the connection on this, quietly.
            raise StopIteration
        super().handle_request(listener, req, client, addr)


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, with a deadline on each request's headers,
    kept-alive connections' next requests included."""

    def handle(self, conn: Any) -> Any:
        watch = watch_headers(conn.sock, self.cfg.is_ssl)
        conn.dealgate_headers = watch
        try:
            return super().handle(conn)
        finally:
            # Before the connection goes back to the poller or is closed.
            forget(watch, conn.client)
            conn.dealgate_headers = None

    def handle_request(self, req: Any, conn: Any) -> bool:
        if headers_late(conn.dealgate_headers):
            return False  # closes the connection
        return super().handle_request(req, conn)

    def handle_http2(self, conn: Any) -> Any:
        headers_late(conn.dealgate_headers)  # not watched: see the module
        return super().handle_http2(conn)
