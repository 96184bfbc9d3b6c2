"""A request's body is read whole within BODY_WAIT, or refused: never
taken for none, and never left to hold a worker.

A body sent with `Transfer-Encoding: chunked` has no Content-Length, and
Django reads such a body as empty: its forms come out with no field, its
JSON as nothing. A page then acts as if nothing was sent: a script posting
a chunked `stage=proposal` to a lead's conversion converted the lead into
the pipeline's first stage, and the API did the same with {"stage":
"proposal"}.

A body sent with its Content-Length is one a sync worker of gunicorn reads
from the client itself, as Django reads the form: a client that announces
100 bytes and sends 10 held the worker until gunicorn killed it (30 s).
Under gunicorn (its `gunicorn.socket`) every body is now read here, both
kinds, and BODY_WAIT is the limit on the whole of it: a body not all in by
then is refused (400). gunicorn's reader waits on the socket many times
within one read of ours, each time afresh, so a timeout on the socket alone
would not stop a client that sends a byte now and then; a `Watchdog`, one
thread per worker process, shuts the socket's read side at the deadline,
which ends the wait at once and leaves the answer to be written. A buffering
proxy in front is still what keeps many slow clients from taking every
worker at once (README, "Behind a reverse proxy").

`BodyMiddleware`, early in MIDDLEWARE (before CSRF's check and the
control-character check read the form), runs `read_chunked_body` and
`read_sized_body` for every request, pages, the public lead form and the
API alike. A body declared past its address's limit is refused on its
Content-Length, unread (`refuse_declared_length`). What it refuses is
answered in the error family: JSON under /api/, the site's error page
saying what was wrong on a page, and a page's body past the upload limit as
Django's own is (413, dealgate.web.errors).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from gunicorn.http.errors import ParseException

from dealgate.errors import DealgateError, ValidationError

from .errors import bad_request, refused

log = logging.getLogger("dealgate.web")


class LengthRequired(DealgateError):
    """A body of unknown length (chunked) that the server does not hand over
    whole: it cannot be read, and must not be taken for none."""

    code = "length_required"
    status = 411


class BrokenBody(DealgateError):
    """A chunked body whose chunks cannot be read."""

    code = "bad_request"
    status = 400


class ChunkedBodyTooBig(ValidationError):
    """A chunked body past Django's upload limit (DATA_UPLOAD_MAX_MEMORY_SIZE),
    or a multipart one that says it is."""


# How much of a chunked body is read at a time.
_STEP = 64 * 1024


class BodyTimedOut(TimeoutError):
    """The whole body did not come within BODY_WAIT seconds."""


def read_chunked_body(request: HttpRequest) -> None:
    """Read a chunked body whole, so that the request then holds it as one
    sent with its Content-Length: Django's form and body readers, and the
    API's, find it there.

    A WSGI server that undoes the chunks and ends the input where the body
    ends says so with `wsgi.input_terminated` (gunicorn, which `dealgate
    serve` runs, does); then the body is read, within Django's upload limit
    (`ChunkedBodyTooBig`, 422, past that; the rest is not read). Without it
    nothing tells where the body ends, and it is refused (411,
    `LengthRequired`); chunks that cannot be read are 400 (`BrokenBody`),
    and so is a body whose chunks do not all come within BODY_WAIT seconds:
    a sync worker waiting on them serves no one else, and gunicorn would
    kill it at its own timeout (30 s) with a 500 and a traceback.
    A request with a Content-Length, or with no Transfer-Encoding (no
    body), is left as it came.
    """
    meta = request.META
    if meta.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" not in meta:
        return
    if not meta.get("wsgi.input_terminated"):
        log.info(
            "refused %s %s: a chunked body, which this server does not hand over whole",
            request.method,
            request.path,
        )
        raise LengthRequired(
            "the body is sent in chunks (Transfer-Encoding) without a "
            "Content-Length, and this server cannot tell where it ends; "
            "send it with a Content-Length",
            field="body",
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    wait = settings.BODY_WAIT
    try:
        body = _read_until_end(
            meta["wsgi.input"], limit, meta.get("gunicorn.socket"), wait
        )
    except TimeoutError:
        log.info(
            "refused %s %s: its chunked body did not all come within %g s",
            request.method,
            request.path,
            wait,
        )
        raise BrokenBody(
            f"the body's chunks did not all come within {wait:g} seconds; "
            "send it again",
            field="body",
        ) from None
    except (OSError, ParseException) as exc:
        # gunicorn's reader refuses a chunk it cannot parse (ParseException),
        # and the end of the connection before the last chunk (NoMoreData,
        # an OSError): the client's fault, not ours.
        log.info(
            "refused %s %s: its chunked body could not be read (%s)",
            request.method,
            request.path,
            type(exc).__name__,
        )
        raise BrokenBody(
            "the body's chunks are not well formed, or the body ended before "
            "its last chunk; send it again",
            field="body",
        ) from None
    if limit is not None and len(body) > limit:
        raise ChunkedBodyTooBig(
            f"the body is over {limit:,} bytes, more than the server takes",
            field="body",
        )
    # Django reads the body from this stream, as many bytes as CONTENT_LENGTH
    # says: the body as if it had come with its length.
    request._stream = io.BytesIO(body)  # type: ignore[attr-defined]
    meta["CONTENT_LENGTH"] = str(len(body))


def read_sized_body(request: HttpRequest) -> None:
    """Under gunicorn, read a body sent with its Content-Length whole within
    BODY_WAIT seconds, so that a client that stops sending it, or sends it
    a byte now and then, is refused (400, `BrokenBody`) rather than left to
    hold the worker; one that ends before its length is refused too, not
    read as a shorter form.

    Only a body within its address's limit is read here: one past it is
    refused on its Content-Length alone, unread (`refuse_declared_length`).
    Without gunicorn's socket (the test client, another server) a body
    within the limit is left as it came.
    """
    meta = request.META
    if "HTTP_TRANSFER_ENCODING" in meta:
        return  # read_chunked_body's, which set CONTENT_LENGTH to what it read
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length <= 0:
        return
    refuse_declared_length(request, length)
    sock = meta.get("gunicorn.socket")
    if sock is None:
        return
    wait = settings.BODY_WAIT
    try:
        # At most `length` bytes: a limit one under it stops at the last.
        body = _read_until_end(meta["wsgi.input"], length - 1, sock, wait)
    except TimeoutError:
        log.info(
            "refused %s %s: its body of %d bytes did not all come within %g s",
            request.method,
            request.path,
            length,
            wait,
        )
        raise BrokenBody(
            f"the body did not all come within {wait:g} seconds; send it again",
            field="body",
        ) from None
    except OSError as exc:
        log.info(
            "refused %s %s: its body could not be read (%s)",
            request.method,
            request.path,
            type(exc).__name__,
        )
        raise BrokenBody(
            "the connection failed while the body was read; send it again",
            field="body",
        ) from None
    if len(body) < length:
        log.info(
            "refused %s %s: its body ended after %d of its %d bytes",
            request.method,
            request.path,
            len(body),
            length,
        )
        raise BrokenBody(
            f"the body ended after {len(body):,} of the {length:,} bytes its "
            "Content-Length says; send it again",
            field="body",
        )
    # Django reads the body from this stream, as many bytes as CONTENT_LENGTH
    # says.
    request._stream = io.BytesIO(body)  # type: ignore[attr-defined]


class DeclaredTooBig(ChunkedBodyTooBig):
    """A body whose Content-Length is past its address's limit."""


# Addresses that take less body than Django's upload limit, by their route
# as Django's resolver gives it, such as "api/v1/leads" (`limit_body`).
_route_limits: dict[str, int] = {}


def limit_body(route: str, limit: int) -> None:
    """Refuse a body over `limit` bytes at `route` (as Django's resolver
    gives it: "api/v1/leads/<lead_id>") on its Content-Length alone, before
    any of it is read and before the view runs, as one over Django's upload
    limit is everywhere: the view's own check would come only after the
    worker had waited for the body."""
    _route_limits[route] = limit


def refuse_declared_length(request: HttpRequest, length: int) -> None:
    """Refuse (`DeclaredTooBig`) a body whose declared `length` is past what
    its address takes: its route's limit (`limit_body`), else Django's upload
    limit. Past Django's it is refused on every address, forms, JSON and
    multipart alike (Django leaves files out of its limit, and Dealgate takes
    none)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if _route_limits and length > min(_route_limits.values()):
        try:
            route = resolve(request.path_info).route
        except Resolver404:
            route = ""
        if route in _route_limits:
            limit = _route_limits[route]
            if length > limit:
                raise DeclaredTooBig(
                    f"the body is {length:,} bytes; the limit is {limit:,}",
                    field="body",
                )
    if limit is not None and length > limit:
        raise DeclaredTooBig(
            f"the body is {length:,} bytes, more than the server takes "
            f"({limit:,} at most)",
            field="body",
        )


def _read_until_end(
    stream: Any,
    limit: int | None,
    sock: socket.socket | None = None,
    wait: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    watchdog: Watchdog | None = None,
) -> bytes:
    """What `stream` holds until it ends, or `limit` bytes and one more: a
    body past the limit is refused without reading the rest of it. A WSGI
    input may return fewer bytes than asked before its end, so it is read
    until it returns none.

    With the connection's socket (gunicorn's `gunicorn.socket`) and `wait`,
    the whole body must come within `wait` seconds of `clock`
    (`BodyTimedOut` past it). gunicorn's reader waits on the socket as many
    times as it takes to gather what is asked, so each read of ours gives
    the socket what is left as its timeout, which stops a body that stops
    coming, and `watchdog` (the worker's own, `shared_watchdog`) shuts the
    socket's read side at the deadline, which stops one that keeps trickling
    in. The watch ends with the read, whatever happens, and the socket's
    timeout is put back after, for gunicorn to write the answer."""
    if sock is None or wait is None:
        return _read_steps(stream, limit)
    deadline = clock() + wait
    before = sock.gettimeout()
    watch = None
    # A TLS socket's own shutdown() drops its encryption, which the answer
    # still needs: there only the timeout of each read counts.
    if type(sock) is socket.socket:
        watch = (watchdog or shared_watchdog()).watch(sock, deadline)
    try:
        body = _read_steps(stream, limit, sock, deadline, clock)
    except Exception:
        # The cut itself ends a chunked body early (gunicorn's NoMoreData).
        if watch is None or not watch.end():
            raise
    finally:
        cut = watch is not None and watch.end()
        sock.settimeout(before)
    if cut:
        # The rest of the body may still come, and must not be read as the
        # next request: gunicorn closes a connection whose body it marks so.
        if hasattr(stream, "failed"):
            stream.failed = True
        raise BodyTimedOut
    return body


def _read_steps(
    stream: Any,
    limit: int | None,
    sock: socket.socket | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    parts: list[bytes] = []
    size = 0
    while limit is None or size <= limit:
        if sock is not None and deadline is not None:
            left = deadline - clock()
            if left <= 0:
                raise BodyTimedOut
            sock.settimeout(left)
        want = _STEP if limit is None else min(_STEP, limit + 1 - size)
        part = stream.read(want)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class Watch:
    """One deadline in a `Watchdog` (a body's, or a request's headers'); `end`
    it once what it watches is read."""

    def __init__(
        self, watchdog: Watchdog, sock: socket.socket, farewell: bytes = b""
    ) -> None:
        self.watchdog = watchdog
        self.sock = sock
        self.farewell = farewell
        self.ended = False
        self.cut = False

    def end(self) -> bool:
        """Stop watching; from now on the socket is never shut by the
        watchdog. Whether it was, the deadline having passed first."""
        return self.watchdog._end(self)


class Watchdog:
    """Shuts the read side of each watched socket whose deadline passes
    before its watch ends: a read waiting on it returns at once, as at the
    end of the body, and the socket can still be written to. A watch's
    `farewell`, if any, is written first, without waiting: the answer for a
    request no one else will answer (dealgate.web.workers).

    One thread for all the watches of a process, asleep until the earliest
    deadline (a heap of them), started at the first watch, and a daemon: it
    never keeps a worker from exiting. Watching and ending take one lock, as
    does shutting, so a socket is never shut once its watch has ended: not
    after its request is done, nor when the connection (kept alive) or its
    file descriptor serves another."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(
        self, sock: socket.socket, deadline: float, farewell: bytes = b""
    ) -> Watch:
        """Watch `sock` until `deadline` (on `clock`), or until the watch
        ends; at the deadline write `farewell` to it, then shut its read
        side."""
        watch = Watch(self, sock, farewell)
        with self._lock:
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dealgate-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._lock.notify()  # sooner than the thread means to wake
        return watch

    def cut_due(self) -> int:
        """Shut every watched socket whose deadline has passed; how many."""
        with self._lock:
            return self._cut_due()

    def _cut_due(self) -> int:
        now = self.clock()
        cut = 0
        while self._heap and self._heap[0][0] <= now:
            _, _, watch = heapq.heappop(self._heap)
            if watch.ended:
                continue
            watch.ended = watch.cut = True
            cut += 1
            # OSError: the client is gone already, and the read ends anyway.
            # A farewell is a few hundred bytes into an empty send buffer:
            # it never waits, and one that does not fit is dropped.
            if watch.farewell:
                with contextlib.suppress(OSError):
                    watch.sock.send(watch.farewell, socket.MSG_DONTWAIT)
            with contextlib.suppress(OSError):
                watch.sock.shutdown(socket.SHUT_RD)
        return cut

    def _end(self, watch: Watch) -> bool:
        with self._lock:
            watch.ended = True
            # Ended watches at the top are dropped now, so a worker serving
            # one request at a time keeps a heap of one.
            while self._heap and self._heap[0][2].ended:
                heapq.heappop(self._heap)
            return watch.cut

    def _run(self) -> None:
        with self._lock:
            while True:
                self._cut_due()
                if self._heap:
                    self._lock.wait(self._heap[0][0] - self.clock())
                else:
                    self._lock.wait()


_shared: Watchdog | None = None
_shared_lock = threading.Lock()


def shared_watchdog() -> Watchdog:
    """The watchdog of this process, made at its first use: a worker's own,
    never the master's, whose thread a fork would not carry over."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Watchdog()
        return _shared


def _forget_watchdog() -> None:
    global _shared, _shared_lock
    _shared = None
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_watchdog)


class BodyMiddleware:
    """Every request's body read whole before anything reads it
    (`read_chunked_body`, `read_sized_body`), or the request refused: 411,
    400, or past the upload limit 422 under /api/ and 413 on a page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            read_chunked_body(request)
            read_sized_body(request)
        except DealgateError as exc:
            return _refused(request, exc)
        return self.get_response(request)


def _refused(request: HttpRequest, exc: DealgateError) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(exc.as_dict(), status=exc.status)
    if isinstance(exc, ChunkedBodyTooBig):
        # As a form with its Content-Length past the limit is answered.
        return bad_request(request, RequestDataTooBig(exc.message))
    return refused(request, exc.status, exc.message)
