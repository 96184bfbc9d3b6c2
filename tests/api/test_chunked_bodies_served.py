"""`dealgate serve` (gunicorn) reads a chunked body the API is sent, as a
client that streams sends it: `Transfer-Encoding: chunked` and no
Content-Length, over a raw socket.

A lead sent so was refused for having no email, and a conversion under
{"stage": "proposal"} went into the first stage past the criteria that
would have refused it. The server listens on DEALGATE_TEST_PORT if set (a
machine that hands out ports), else on a port the system finds free.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, REPO_ROOT
from tests.web.test_serve import free_port, wait_for

EXAMPLE = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"


def dealgate(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dealgate", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A server over a SQLite file holding the example pipeline (without its
    routing rules, whose people it lacks), an admin and their API token: the
    port and the token's secret."""
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'dealgate.sqlite3'}",
        DEALGATE_VAR_DIR=str(tmp_path),
    )
    dealgate(env, "migrate")
    dealgate(env, "user", "add", "olivia", "--role", "admin", "--password-stdin",
             stdin=PASSWORD)  # fmt: skip
    text = EXAMPLE.read_text()
    pipeline = tmp_path / "it-services.toml"
    pipeline.write_text(text[: text.index("[[routing]]")])
    dealgate(env, "pipeline", "apply", str(pipeline))
    token = ["token", "create", "olivia", "--scope", "leads,deals"]
    secret = dealgate(env, *token).splitlines()[1]
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "dealgate", "serve", "--port", str(port)]
        + ["--workers", "1", "--no-sweeper"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(port, process)
        yield port, secret
    finally:
        process.terminate()
        process.wait(timeout=30)


def send(port: int, method: str, path: str, body: bytes, secret: str) -> Any:
    """Send `body`, chunked already (`chunked`), with no Content-Length;
    the answer's status and JSON."""
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {secret}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def chunked(data: dict[str, Any] | bytes, size: int = 7) -> bytes:
    """`data` as JSON (or bytes) in chunks of `size` bytes, then the last
    chunk."""
    text = data if isinstance(data, bytes) else json.dumps(data).encode()
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_the_server_reads_chunked_bodies_and_refuses_what_it_cannot_take(served):
    port, secret = served
    lead = {"email": "ann@fabrikam.example", "name": "Ann", "company": "Fabrikam"}

    captured = send(port, "POST", "/api/v1/leads", chunked(lead), secret)
    lead_url = f"/api/v1/leads/{captured[1]['lead']['id']}"
    convert = f"{lead_url}/convert"
    refused = send(port, "POST", convert, chunked({"stage": "proposal"}), secret)
    too_big = send(port, "POST", convert, chunked(b" " * 3_000_000, 2**20), secret)
    # A chunk size that is no hexadecimal number.
    broken = send(port, "POST", convert, b"zz\r\n{}\r\n0\r\n\r\n", secret)
    deal = {"pipeline": "it-services", "title": "Fabrikam", "organization": "Fabrikam"}
    created = send(port, "POST", "/api/v1/deals", chunked(deal), secret)
    still = send(port, "GET", lead_url, chunked(b""), secret)

    assert captured[0] == 201, captured
    assert captured[1]["lead"]["email"] == "ann@fabrikam.example"
    assert refused[0] == 422, refused
    assert refused[1]["code"] == "move_refused"
    assert "The scope to quote is agreed" in " ".join(refused[1]["unmet"])
    assert too_big == (
        422,
        {
            "code": "invalid",
            "message": "the body is over 2,621,440 bytes, more than the server takes",
            "field": "body",
        },
    )
    assert broken[0] == 400, broken
    assert broken[1]["field"] == "body"
    assert created[0] == 201, created
    assert (created[1]["stage"], created[1]["owner"]) == ("inquiry", "olivia")
    assert still[0] == 200 and still[1]["status"] == "new"
