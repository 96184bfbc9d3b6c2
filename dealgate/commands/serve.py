"""`dealgate serve`: run the web application as in production, under gunicorn.

Sync workers, one per core by default: on these machines more workers than
cores was slower, not faster (PERFORMANCE.md). Each worker keeps its database
connection between requests (CONN_MAX_AGE in settings), which is worth 6-7x on
PostgreSQL.

A sync worker serves one request at a time and reads it from the socket
itself, so a client that sends slowly holds it, for HEADER_WAIT at most for
the headers (dealgate.web.workers) and BODY_WAIT for the body
(dealgate.web.bodies): `dealgate serve` belongs behind a reverse proxy that
reads whole requests first (README, "Behind a reverse proxy"). `--threads N`
runs gthread workers of N threads instead: a slow client holds one thread
rather than a whole worker, and one that sends nothing for 5 s frees its
thread. Unmeasured here, so not the default.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from gunicorn.app.base import BaseApplication

from dealgate.core.text import counted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the web application under gunicorn"
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: one per CPU core)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker; more than 1 runs gthread workers (default: 1, "
        "sync workers; unmeasured, see the README)",
    )
    parser.add_argument(
        "--no-sweeper",
        action="store_true",
        help="do not run the clock sweeper beside the server (run `dealgate sweep "
        "--loop` elsewhere)",
    )
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    serve_with_sweeper(
        args.host,
        args.port,
        args.workers,
        threads=args.threads,
        sweeper=not args.no_sweeper,
    )
    return 0


def serve_with_sweeper(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    *,
    threads: int = 1,
    sweeper: bool = True,
) -> None:
    """Serve as `dealgate serve` does (and `dealgate demo` after loading): the
    web application and, unless `sweeper` is off, `dealgate sweep --loop`
    beside it, at the same as-of time. The sweeper stops when serving does.
    """
    from dealgate.cli import log_progress
    from dealgate.clocks.runner import start_background_sweeper

    check_port_free(host, port, hint=_another_port)
    log_progress()
    running = start_background_sweeper() if sweeper else None
    try:
        serve(host, port, workers, threads=threads)
    finally:
        # gunicorn ends with SystemExit on Ctrl-C or SIGTERM; the sweeper,
        # which got the same Ctrl-C from the terminal, may already be gone.
        if running is not None:
            running.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    *,
    threads: int = 1,
) -> None:
    """Collect static files, then serve until stopped (Ctrl-C or SIGTERM).

    Blocks; gunicorn ends the process with SystemExit when it stops. Call it
    after any database work: the connections this process holds are closed
    first, because forked workers would otherwise share their sockets.
    """
    from dealgate.cli import CommandError

    if workers is not None and workers < 1:
        raise CommandError(f"--workers must be 1 or more; got {workers}")
    if threads < 1:
        raise CommandError(f"--threads must be 1 or more; got {threads}")
    workers = workers or default_workers()
    call_command("collectstatic", interactive=False, verbosity=0)
    connections.close_all()

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url_host = f"[{host}]" if ":" in host else host
    each = f" of {threads} threads" if threads > 1 else ""
    print(
        f"Dealgate is serving at http://{url_host}:{port}/ "
        f"({counted(workers, 'worker')}{each}); Ctrl-C stops it",
        flush=True,
    )
    WsgiServer(
        {
            "bind": bind,
            "workers": workers,
            # gunicorn's own, with a deadline on each request's headers.
            "worker_class": (
                "dealgate.web.workers.ThreadWorker"
                if threads > 1
                else "dealgate.web.workers.SyncWorker"
            ),
            "threads": threads,
            # Only these may say a request came over HTTPS (X-Forwarded-Proto);
            # gunicorn ignores the header from anyone else.
            "forwarded_allow_ips": ",".join(settings.PROXY_ADDRESSES),
            # Load the application once in the master so an import or settings
            # error stops start-up with one traceback instead of a worker loop.
            "preload_app": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "timeout": settings.WORKER_TIMEOUT,
            "graceful_timeout": 10,
        }
    ).run()


# How many ports after a busy one are tried for one to suggest.
NEXT_PORTS = 5


def _another_port(free: int | None) -> str:
    if free is None:
        return "give a free one with --port"
    return f"give another with --port {free}"


def check_port_free(host: str, port: int, *, hint: Callable[[int | None], str]) -> None:
    """Refuse, in one line, an address this process could not serve at:
    gunicorn would only retry it and stop with no plain word. A busy port's
    line ends with `hint` of the first of the NEXT_PORTS after it that is
    free, or of None when none is.

    Binds and lets go at once, with the reuse gunicorn sets, so a port that
    only held closing connections (TIME_WAIT) is free.
    """
    from dealgate.cli import CommandError

    error = _bind_error(host, port)
    if error is None:
        return
    if error.errno != errno.EADDRINUSE:
        raise CommandError(f"cannot serve at {host} port {port}: {error.strerror}")
    last = min(port + NEXT_PORTS, 65535)
    free = next(
        (n for n in range(port + 1, last + 1) if _bind_error(host, n) is None), None
    )
    if free is None and last > port:
        raise CommandError(
            f"port {port} is in use, and so are {port + 1} to {last}; {hint(None)}"
        )
    raise CommandError(f"port {port} is in use; {hint(free)}")


def _bind_error(host: str, port: int) -> OSError | None:
    """Why this process cannot listen at `host` `port`, or None if it can."""
    from dealgate.cli import CommandError

    try:
        found = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CommandError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def default_workers() -> int:
    """One per core this process may run on (cgroup and affinity aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class WsgiServer(BaseApplication):
    """gunicorn with its options given in code rather than read from argv."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from dealgate.wsgi import application

        return application
