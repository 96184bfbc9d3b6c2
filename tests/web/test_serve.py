"""`dealgate serve` runs gunicorn with several workers over one SQLite file."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dealgate.commands.serve import default_workers
from dealgate.commands.serve import serve as serve_fn

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server stopped: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {seconds} s")


def served(
    env: dict[str, str], port: int, *args: str, **settings: str
) -> subprocess.Popen:
    """`dealgate serve` on `port` with `args` (no sweeper) and the settings
    given by their variables' names, once it listens; stopped if it never
    does."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dealgate", "serve", "--port", str(port)]
        + ["--no-sweeper", *args],
        env={**env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(port, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def log_in(port: int) -> int:
    """Sign in through the form; the session row is a write to SQLite."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    body = urllib.parse.urlencode(
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/login/",
        body=body,
        headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    return response.status


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return response


def dealgate(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dealgate", *args], env=env, check=True, timeout=120
    )


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'dealgate.sqlite3'}",
        DEALGATE_VAR_DIR=str(tmp_path),
    )
    dealgate(env, "migrate")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            "from dealgate.accounts.models import User;"
            f"User.objects.create_user('alice', password={PASSWORD!r})",
        ],
        env=dict(env, DJANGO_SETTINGS_MODULE="dealgate.settings"),
        check=True,
        timeout=60,
    )
    return env


def test_serve_answers_logins_and_static_files_from_several_sqlite_workers(
    server_env,
):
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "dealgate", "serve", "--port", str(port)]
        + ["--workers", "2"],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}/" in process.stdout.readline()
        wait_for(port, process)

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(log_in, [port] * 4))
        css = get(port, "/static/dealgate/app.css", **{"Accept-Encoding": "gzip"})
        board = get(port, "/")
    finally:
        process.terminate()
        process.wait(timeout=30)

    # A good login redirects to the board; a failed one shows the form (200).
    assert statuses == [302] * 4
    assert (css.status, css.getheader("Content-Encoding")) == (200, "gzip")
    assert board.status == 302  # no session: sent to log in
    assert process.returncode == 0


def test_serve_refuses_fewer_than_one_worker():
    from dealgate.cli import CommandError

    with pytest.raises(CommandError, match="--workers must be 1 or more"):
        serve_fn("127.0.0.1", free_port(), 0)


def test_the_default_is_one_worker_per_core():
    assert default_workers() == len(os.sched_getaffinity(0))


def test_serve_refuses_fewer_than_one_thread():
    from dealgate.cli import CommandError

    with pytest.raises(CommandError, match="--threads must be 1 or more; got 0"):
        serve_fn("127.0.0.1", free_port(), 1, threads=0)


@pytest.mark.parametrize(
    ("threads", "kind"),
    [
        (1, "dealgate.web.workers.SyncWorker"),
        (4, "dealgate.web.workers.ThreadWorker"),
    ],
)
def test_serve_hands_gunicorn_the_worker_kind_and_the_proxys_addresses(
    monkeypatch, settings, capsys, threads, kind
):
    from dealgate.commands import serve as command

    given: list[dict] = []
    settings.PROXY_ADDRESSES = ["10.0.0.1", "10.0.1.0/24"]
    monkeypatch.setattr(command, "call_command", lambda *args, **kwargs: None)
    monkeypatch.setattr(
        command.WsgiServer, "run", lambda self: given.append(self.options)
    )

    serve_fn("127.0.0.1", 8130, 2, threads=threads)

    options = given[0]
    assert (options["worker_class"], options["threads"]) == (kind, threads)
    assert options["timeout"] == 30
    assert options["forwarded_allow_ips"] == "10.0.0.1,10.0.1.0/24"
    each = " of 4 threads" if threads == 4 else ""
    assert f"(2 workers{each})" in capsys.readouterr().out
