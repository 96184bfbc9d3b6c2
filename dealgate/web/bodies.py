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
Under gunicorn, whose connection socket takes a timeout for each read
(`gunicorn.socket`), such a body is now read here too, each read waiting
at most what is left of BODY_WAIT: a body that stops coming is refused at
the deadline. The limit of this: gunicorn's reader waits for many socket
reads within one read of ours, each given the time that was left when it
began, so a client that keeps sending a byte now and then, never pausing
a whole BODY_WAIT, is not cut off here, and still only by gunicorn's
timeout. A buffering proxy in front is still what stops slow clients
(README, "Behind a reverse proxy").

`BodyMiddleware`, early in MIDDLEWARE (before CSRF's check and the
control-character check read the form), runs `read_chunked_body` and
`read_sized_body` for every request, pages, the public lead form and the
API alike. What it refuses is answered in the error family: JSON under
/api/, plain text on a page, and a page's body past the upload limit as
Django's own is (413, dealgate.web.errors).
"""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from gunicorn.http.errors import ParseException

from dealgate.errors import DealgateError, ValidationError

from .errors import bad_request

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
    BODY_WAIT seconds, so that a client that stops sending it is refused
    (400, `BrokenBody`) rather than left to hold the worker; one that ends
    before its length is refused too, not read as a shorter form.

    Only a body within Django's upload limit is read here. One past it is
    refused on its length alone, unread, where it is read: by Django's form
    reader, the API's, or here for a multipart form (`ChunkedBodyTooBig`),
    whose reader would otherwise read it, since Django leaves files out of
    the limit and Dealgate takes no files. Without gunicorn's socket (the
    test client, another server) a body within the limit is left as it came.
    """
    meta = request.META
    if "HTTP_TRANSFER_ENCODING" in meta:
        return  # read_chunked_body's, which set CONTENT_LENGTH to what it read
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length <= 0:
        return
    if limit is not None and length > limit:
        if request.content_type == "multipart/form-data":
            raise ChunkedBodyTooBig(
                f"the body is {length:,} bytes, more than the server takes "
                f"({limit:,} at most)",
                field="body",
            )
        return
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


def _read_until_end(
    stream: Any,
    limit: int | None,
    sock: socket.socket | None = None,
    wait: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """What `stream` holds until it ends, or `limit` bytes and one more: a
    body past the limit is refused without reading the rest of it. A WSGI
    input may return fewer bytes than asked before its end, so it is read
    until it returns none.

    With the connection's socket (gunicorn's `gunicorn.socket`) and `wait`,
    the body must come within `wait` seconds of `clock`: each read of ours
    is given at most what is left (TimeoutError past it). gunicorn may wait
    on the socket several times within one such read, each time for that
    long, so a body that stops coming is cut off at the deadline, one that
    keeps trickling in only between our reads. The socket's own timeout is
    put back after, for gunicorn to write the answer."""
    deadline = None if sock is None or wait is None else clock() + wait
    before = sock.gettimeout() if deadline is not None else None
    parts: list[bytes] = []
    size = 0
    try:
        while limit is None or size <= limit:
            if deadline is not None:
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
    finally:
        if deadline is not None:
            sock.settimeout(before)
    return b"".join(parts)


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
    return HttpResponse(
        exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
    )
