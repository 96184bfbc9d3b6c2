"""Shared personas and a small pipeline, used across the suite.

Personas: `olivia` owns the firm (admin), `max` manages the team, `alice` and
`bob` are reps. Passwords are all PASSWORD.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealgate import timesource
from dealgate.cli import LOGGER
from tests.locking import OtherSession

PASSWORD = "correct horse battery staple"
REPO_ROOT = Path(__file__).resolve().parents[1]
IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
SHARED = REPO_ROOT.parent / "shared"
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _time_unpinned_after_each_test() -> Iterator[None]:
    # A pinned time is process-wide; one test must never leak it to the next,
    # nor a command run in a test (dealgate.cli.main) its way of telling it.
    yield
    timesource.set_now(None)
    timesource.use_recorded_as_of(False)


@pytest.fixture(autouse=True)
def _log_level_put_back_after_each_test() -> Iterator[None]:
    # A command run in a test (dealgate.cli.main) sets the level for its run.
    level = logging.getLogger(LOGGER).level
    yield
    logging.getLogger(LOGGER).setLevel(level)


@pytest.fixture(autouse=True)
def _environment_put_back_after_each_test() -> Iterator[None]:
    # A command run in a test (dealgate.cli.main) puts its as-of date and
    # database in the environment for its run, where the next command would
    # read them (and a process a later test starts would inherit them).
    saved = {name: os.environ.get(name) for name in ("DEALGATE_AS_OF", "DATABASE_URL")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _no_lead_spool_from_the_environment(settings) -> None:
    # A spool folder named in the environment holds someone's real leads: a
    # sweep run by a test must never take them into the test database.
    settings.LEADS_SPOOL_DIR = ""


@pytest.fixture
def sqlite_file(transactional_db, tmp_path) -> Iterator[Path]:
    """The test database copied to a SQLite file that the default connection
    uses for the test: another connection's write lock then holds as in
    production (a write waits for the busy timeout, then "database is
    locked"), not as on the shared in-memory database (refused at once).
    Rows written before it are copied; those written after go to the file."""
    from django.db import connections

    memory = connections["default"]
    if memory.vendor != "sqlite":
        pytest.skip("SQLite's whole-database write lock; PostgreSQL locks rows")
    memory.ensure_connection()
    path = tmp_path / "dealgate.sqlite3"
    copy = sqlite3.connect(path)
    memory.connection.backup(copy)
    copy.close()
    wrapper = memory.__class__({**memory.settings_dict, "NAME": str(path)}, "default")
    connections["default"] = wrapper
    try:
        yield path
    finally:
        wrapper.close()
        connections["default"] = memory


@pytest.fixture
def other_writer(sqlite_file) -> Iterator[sqlite3.Connection]:
    """A second connection to the file: `.execute("BEGIN IMMEDIATE")` takes
    its write lock, as a running import holds it, `ROLLBACK` lets go."""
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def now() -> Iterator[dt.datetime]:
    """Freeze the application's clock at NOW for the test."""
    with timesource.frozen_at(NOW):
        yield NOW


def _user(django_user_model, username: str, role: str, **extra):
    first, _, last = extra.pop("full_name", username.title()).partition(" ")
    return django_user_model.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        first_name=first,
        last_name=last,
        **extra,
    )


@pytest.fixture
def team(db):
    from dealgate.accounts.models import Team

    return Team.objects.create(name="Central")


@pytest.fixture
def olivia(db, django_user_model):
    return _user(django_user_model, "olivia", "admin", full_name="Olivia Owner")


@pytest.fixture
def admin(olivia):
    """A browser signed in to /admin/ as olivia, an admin as `dealgate user
    add --role admin` leaves one (staff and superuser)."""
    from django.test import Client

    olivia.is_staff = olivia.is_superuser = True
    olivia.save()
    client = Client()
    client.force_login(olivia)
    return client


@pytest.fixture
def max_manager(db, django_user_model, team):
    user = _user(
        django_user_model, "max", "manager", full_name="Max Manager", team=team
    )
    team.manager = user
    team.save()
    return user


@pytest.fixture
def alice(db, django_user_model, team):
    return _user(django_user_model, "alice", "rep", full_name="Alice Rep", team=team)


@pytest.fixture
def bob(db, django_user_model, team):
    return _user(django_user_model, "bob", "rep", full_name="Bob Rep", team=team)


@pytest.fixture
def demo_people(db) -> None:
    """The users and teams `make demo` creates: its logins, and the agents,
    managers and teams of the Maven CRM data set (without its deals)."""
    from dealgate.demo.loader import ensure_logins
    from dealgate.imports.mappings import MAVEN_DEMO_DIR, get_mapping
    from dealgate.imports.report import ImportReport
    from dealgate.imports.sidefiles import build_lookups

    report = ImportReport(file="", mapping="maven-crm", pipeline="")
    build_lookups(get_mapping("maven-crm"), MAVEN_DEMO_DIR, report)
    ensure_logins()


@pytest.fixture
def pipeline(db):
    """Five open stages, each owned by the deal's owner, 5 to 15 day limits."""
    from dealgate.pipelines.models import Pipeline, Stage

    pipe = Pipeline.objects.create(
        key="new-business",
        name="New business",
        calendar={
            "timezone": "Europe/Berlin",
            "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        },
        loss_reasons=[
            {"key": "price", "label": "Price"},
            {"key": "other", "label": "Other", "needs_note": True},
        ],
    )
    for position, (key, name, limit) in enumerate(
        [
            ("inquiry", "Inquiry received", 2),
            ("discovery", "Discovery call booked", 5),
            ("proposal", "Proposal requested", 10),
            ("review", "Proposal reviewed by the buyer", 10),
            ("contract", "Contract out", 15),
        ]
    ):
        Stage.objects.create(
            pipeline=pipe,
            key=key,
            name=name,
            position=position,
            owner_kind=Stage.OwnerKind.DEAL_OWNER,
            age_limit_days=limit,
            probability=10 + 20 * position,
        )
    return pipe


@pytest.fixture
def shrunk(tmp_path):
    """The IT-services file without its "review" stage and the handoffs to it."""
    text = IT_SERVICES.read_text(encoding="utf-8")
    start = text.index('[[stages]]\nkey = "review"')
    text = text[:start] + text[text.index('[[stages]]\nkey = "contract"') :]
    text = text.replace(
        'from = "proposal"\nto = "review"', 'from = "proposal"\nto = "contract"'
    )
    text = text.replace(
        '[[handoffs]]\nfrom = "review"\nto = "contract"\nresponse_window = "4h"',
        '[[handoffs]]\nfrom = "inquiry"\nto = "proposal"\nresponse_window = "4h"',
    )
    path = tmp_path / "shrunk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def other() -> Iterator[OtherSession]:
    """A second session on the PostgreSQL test database, for tests of row
    locks between sessions (tests.locking)."""
    with OtherSession.opened() as session:
        yield session
