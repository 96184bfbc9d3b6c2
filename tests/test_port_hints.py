"""A busy port's refusal suggests a port that is free: the first of the next
few that this process could listen on, or none when all of them are busy."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

from dealgate.cli import main
from dealgate.commands.serve import NEXT_PORTS

# Where runs of ports are looked for: upward from here, past any in use.
FIRST_PORT = 8180


@contextlib.contextmanager
def held_run(busy: int, then_free: int = 0) -> Iterator[int]:
    """The first of `busy` consecutive ports, each listened on here for the
    block, followed by `then_free` ports that were free when chosen. A port
    something else holds moves the run past it, so tests beside this one
    cannot collide with it."""
    for start in range(FIRST_PORT, FIRST_PORT + 500):
        with contextlib.ExitStack() as stack:
            held = []
            try:
                for port in range(start, start + busy + then_free):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
                    held.append(sock)
            except OSError:
                continue
            for sock in held[busy:]:
                sock.close()
            for sock in held[:busy]:
                sock.listen()
            yield start
            return
    pytest.fail("found no run of free ports")


@pytest.fixture
def no_sweeper(monkeypatch):
    monkeypatch.setattr(
        "dealgate.clocks.runner.start_background_sweeper",
        lambda interval=None: pytest.fail("the sweeper started"),
    )


def test_serve_suggests_the_first_free_port_past_the_busy_ones(db, no_sweeper, capsys):
    with held_run(busy=3, then_free=1) as port:
        assert main(["serve", "--port", str(port)]) == 2

    assert capsys.readouterr().err == (
        f"dealgate: port {port} is in use; give another with --port {port + 3}\n"
    )


def test_serve_suggests_no_port_when_the_next_few_are_busy_too(db, no_sweeper, capsys):
    with held_run(busy=NEXT_PORTS + 1) as port:
        assert main(["serve", "--port", str(port)]) == 2

    assert capsys.readouterr().err == (
        f"dealgate: port {port} is in use, and so are {port + 1} to "
        f"{port + NEXT_PORTS}; give a free one with --port\n"
    )


def test_the_demo_suggests_a_free_port_or_none(db, monkeypatch, capsys):
    from dealgate.commands import setup

    monkeypatch.setattr(
        setup, "ensure_database", lambda verbosity=1: pytest.fail("it loaded")
    )
    with held_run(busy=2, then_free=1) as port:
        assert main(["demo", "--port", str(port)]) == 2
    with held_run(busy=NEXT_PORTS + 1) as crowded:
        assert main(["demo", "--port", str(crowded)]) == 2

    assert capsys.readouterr().err.splitlines() == [
        f"dealgate: port {port} is in use; run make demo PORT={port + 2}, or "
        f"dealgate demo --port {port + 2}",
        f"dealgate: port {crowded} is in use, and so are {crowded + 1} to "
        f"{crowded + NEXT_PORTS}; run make demo PORT=N, or dealgate demo --port N, "
        "with a free port N",
    ]
