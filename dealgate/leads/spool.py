"""Leads kept on disk while SQLite is busy, and taken in by the sweeper.

On SQLite one writer holds the whole database, and a large import holds it
for minutes. A lead from the website form, the lead API or the New lead page
that cannot be written meanwhile (`capture_or_keep`) is not refused: once it
has passed the checks every capture makes, it is written to a file in the
spool folder and synced to disk before its sender is told it was received. The sweeper
(`drain_spool`, on every tick of `dealgate sweep` and of the one `dealgate
serve` runs) takes the files in, oldest first, once the database is free:
each is captured by `capture_lead` (de-duplication, routing, the response
window) at the time it was received, not the time it is taken in.

Taking in is idempotent and survives a crash: a file's receipt
(`SpooledCapture`, unique) is written in its capture's transaction, and the
file is removed only once that has committed, so a file found again is
removed without a second capture. A file that cannot be captured (its
pipeline was deleted since, say) is moved to `set-aside/` with a
`.reason.txt` beside it, and logged as an error; moved back into the folder,
it is taken in again.

    <spool>/<received>-<channel>-<sender>-<receipt>.json   waiting
    <spool>/.<name>.tmp                                     being written
    <spool>/set-aside/<name>, <name>.reason.txt             for a person
    <spool>/locks/<xx>.lock                                 senders' locks

A temporary file is locked (flock) by the process writing it for as long as
it has that name. One a crash left behind (`_clear_leftovers`, at the start
of every drain) is handled only once it is older than TEMPORARY_AGE and no
process holds its lock: an empty one is removed; one with content is set
aside under the name it was meant to have, with its reason, since its sender
was never told it was received and may have sent it again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    transaction,
)
from django.http.response import HttpResponseBase

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.errors import DealgateError
from dealgate.pipelines.models import Pipeline
from dealgate.web.busy import is_busy

from . import formhits
from .intake import clean_lead
from .models import SpooledCapture
from .services import (
    KEEP,
    CaptureResult,
    capture_lead,
    phone_region,
    pipeline_for_capture,
)

log = logging.getLogger("dealgate.leads")

VERSION = 1
# The doors whose senders cannot simply be told to try again: a visitor of
# the website, another system posting its leads, a rep typing in a lead from
# a phone call (who would lose what they typed).
CHANNELS = ("form", "api", "web")
# Past this many waiting files a capture is refused as before (503): a flood
# from many addresses during an import fills no disk.
MAX_WAITING = 10_000
SET_ASIDE = "set-aside"
# The senders' locks (`sender_lock`), one file for each of 256 tags' starts.
LOCKS = "locks"
# A temporary file this old, and locked by no process, was left by a write
# that crashed: a write takes milliseconds, and its writer holds the lock.
TEMPORARY_AGE = dt.timedelta(minutes=10)
_TEMPORARY = ".tmp"
# Fixed width, so that names sort, and compare, in the order received.
_STAMP = "%Y%m%dT%H%M%S%fZ"
_NOT_TAG = re.compile(r"[^0-9a-z]")
_RECEIPT = re.compile(r"[0-9a-f]{1,32}")


@dataclass(frozen=True)
class Kept:
    """An inquiry kept in the spool, to be captured once the database is free."""

    receipt: str
    channel: str
    pipeline: str
    received_at: dt.datetime


@dataclass
class Drained:
    """What one `drain_spool` did with the files it found."""

    taken: int = 0  # captured: a new lead, or attached to one or a deal
    repeated: int = 0  # taken in before; only the file was left to remove
    set_aside: int = 0
    waiting: int = 0  # left for a later sweep: the database was still busy
    leftovers: int = 0  # temporary files of crashed writes removed or set aside
    busy: bool = False  # stopped because another writer holds the database

    @property
    def any(self) -> bool:
        return bool(
            self.taken
            or self.repeated
            or self.set_aside
            or self.waiting
            or self.leftovers
        )

    def summary(self) -> str:
        left = f", {self.leftovers} left by crashed writes" if self.leftovers else ""
        return (
            f"{self.taken} taken in, {self.repeated} taken in before, "
            f"{self.set_aside} set aside, {self.waiting} still waiting{left}"
        )


class SpoolError(Exception):
    """A file in the spool that is no spooled inquiry this version reads."""


@dataclass(frozen=True)
class _Entry:
    receipt: str
    channel: str
    pipeline: str
    by: int | None
    received_at: dt.datetime
    data: dict[str, Any]
    # Who sent it (the form's keyed client address), and when by the wall
    # clock: a form submission counts against that sender's rate window.
    sender: str = ""
    kept_at: dt.datetime | None = None


def spool_dir() -> Path | None:
    """The spool folder: LEADS_SPOOL_DIR, else one beside the SQLite file and
    named after it (`dealgate.sqlite3-lead-spool`), so that two databases in
    one folder never share a spool. None, unless set, on PostgreSQL, whose
    writers lock rows and not the database, and for an in-memory database.
    """
    configured = getattr(settings, "LEADS_SPOOL_DIR", "")
    if configured:
        return Path(configured)
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return None
    return Path(f"{connection.settings_dict['NAME']}-lead-spool")


def waiting_count() -> int:
    """How many leads wait in the spool to be captured (0 without one)."""
    folder = spool_dir()
    return len(_waiting(folder)) if folder is not None else 0


def capture_or_keep(
    data: Mapping[str, Any],
    *,
    source: str,
    by: User | None = None,
    pipeline: Pipeline | None = None,
    sender: str = "",
    then: Callable[[], object] | None = None,
    receipt: str | None = None,
    reused_id: str = KEEP,
) -> CaptureResult | Kept:
    """Capture an inquiry from the form, the API or the New lead page, or
    keep it in the spool when another writer's lock on SQLite refuses the
    write.

    Refuses what `capture_lead` refuses, before anything is kept. `then`
    runs in the capture's transaction (the form counts its sender's hit
    there); a kept inquiry is counted in the spool (`waiting_from`), under
    `sender`, and a form's in its sender's rate window when it is taken in.
    When the spool cannot take it either (none, full, a disk
    error), the busy error is raised as it came, and the sender is told that
    nothing was received (dealgate.web.busy).

    `receipt` (32 hex digits at most; the New lead page's form carries one)
    makes the capture once-only, whichever way it goes: captured now, the
    receipt is written with it as the drain writes a kept one's; kept, the
    file bears it instead of a new random one. The same receipt sent again,
    kept or not, is captured no second time: answered with the first
    capture (`_capture_once`), or its file taken in as repeated.

    `reused_id` is `capture_lead`'s for a capture now: an inquiry kept to be
    taken in later is answered already, so it is captured as KEEP says.
    """
    if source not in CHANNELS:
        raise ValueError(f"channel {source!r} is not spooled")
    if receipt is not None and not _RECEIPT.fullmatch(receipt):
        raise ValueError(f"a receipt is 1 to 32 hex digits; got {receipt!r}")
    pipeline = pipeline or pipeline_for_capture(data.get("pipeline"))
    received_at, kept_at = timesource.now(), timesource.wall_now()
    try:
        if receipt is not None and then is None:
            return _capture_once(data, source, by, pipeline, receipt, received_at)
        if then is None:
            return capture_lead(
                data, source=source, by=by, pipeline=pipeline, reused_id=reused_id
            )
        # Checked before the transaction, which takes the write lock: a
        # refused submission neither holds it nor waits for it.
        clean_lead(data, region=phone_region(pipeline), currency=pipeline.currency)
        with transaction.atomic():
            result = capture_lead(
                data, source=source, by=by, pipeline=pipeline, reused_id=reused_id
            )
            then()
        return result
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        busy = exc
    # The lock refuses a transaction's start, after the checks; checked here
    # again all the same, so that nothing unchecked is ever kept.
    clean_lead(data, region=phone_region(pipeline), currency=pipeline.currency)
    entry = _Entry(
        receipt=receipt or uuid.uuid4().hex,
        channel=source,
        pipeline=pipeline.key,
        by=by.pk if by is not None else None,
        received_at=received_at,
        data=dict(data),
        sender=sender or (f"user{by.pk}" if by is not None else ""),
        kept_at=kept_at,
    )
    if not _keep(entry):
        raise busy
    return Kept(entry.receipt, entry.channel, entry.pipeline, entry.received_at)


def keep_to_answer_first(
    data: Mapping[str, Any],
    *,
    source: str,
    pipeline: Pipeline,
    by: User | None = None,
    sender: str = "",
) -> Path | None:
    """Check an anonymous inquiry (the website form's, a capture token's) as
    every capture does, then keep it in the spool, so that its sender can be
    answered before it is compared with any lead: returns its file, which
    `take_in_kept` captures once the answer has gone (`answer_then_take_in`).

    What the sender is told, and when, then depends on nothing but what they
    sent: the checks read no lead, and the work that differs between an
    inquiry that repeats a lead and one that does not (de-duplication,
    routing, the repeat's note and notices) is done after. Refuses what
    `capture_lead` refuses (ValidationError), before anything is kept.
    None when there is no spool (PostgreSQL without LEADS_SPOOL_DIR, an
    in-memory database) or it cannot keep this one (full, a disk error):
    the caller then captures at once, as before.
    """
    if source not in CHANNELS:
        raise ValueError(f"channel {source!r} is not spooled")
    clean_lead(data, region=phone_region(pipeline), currency=pipeline.currency)
    if spool_dir() is None:
        return None
    entry = _Entry(
        receipt=uuid.uuid4().hex,
        channel=source,
        pipeline=pipeline.key,
        by=by.pk if by is not None else None,
        received_at=timesource.now(),
        data=dict(data),
        sender=sender or (f"user{by.pk}" if by is not None else ""),
        kept_at=timesource.wall_now(),
    )
    return _kept_path(entry, busy=False)


def take_in_kept(path: Path) -> str:
    """Capture the inquiry `keep_to_answer_first` kept in `path`, at the time
    it was received, now that its sender is answered; returns what became of
    the file ("taken", "repeated", "gone", SET_ASIDE or "waiting"). Never
    raises: a database still busy, or any failure, leaves the file for the
    sweeper (`drain_spool`), which takes it in exactly once all the same."""
    try:
        return _take_in(path)
    except OperationalError as exc:
        if is_busy(exc):
            _say_kept(path)
        else:
            log.exception("spooled inquiry %s waits for the sweeper", path.name)
    except Exception:
        log.exception("spooled inquiry %s waits for the sweeper", path.name)
    return "waiting"


def _say_kept(path: Path) -> None:
    """Log, as a capture kept while the database is busy is logged, that the
    inquiry in `path` waits for the sweeper."""
    try:
        entry = _read(path)
    except (OSError, SpoolError):
        log.info("spooled inquiry %s waits for the sweeper", path.name)
        return
    log.info(
        "inquiry via %s to pipeline %s kept in the lead spool as %s: the "
        "database is busy with another writer",
        entry.channel,
        entry.pipeline,
        entry.receipt,
    )


def answer_then_take_in(response: HttpResponseBase, path: Path) -> HttpResponseBase:
    """`response`, which takes in the inquiry kept in `path` once it has
    been sent: the server closes a response after writing it whole (the
    Content-Length told the client where it ends), and the test client
    closes it before it returns."""
    # Django's own list of what close() calls (HttpResponseBase, kept since
    # Django 3.0; the project pins 5.2), where file responses put their files.
    response._resource_closers.append(partial(take_in_kept, path))
    return response


def _capture_once(
    data: Mapping[str, Any],
    source: str,
    by: User | None,
    pipeline: Pipeline,
    receipt: str,
    at: dt.datetime,
) -> CaptureResult:
    """Capture `data` now under `receipt`, written in the same transaction
    (as `_capture` writes a kept inquiry's); if it was written before, the
    same form was sent again: nothing is captured, and the answer names
    what the first capture made or joined."""
    clean_lead(data, region=phone_region(pipeline), currency=pipeline.currency)
    with transaction.atomic():
        try:
            with transaction.atomic():
                SpooledCapture.objects.create(
                    receipt=receipt,
                    channel=source,
                    received_at=at,
                    taken_at=timesource.now(),
                )
        except IntegrityError:
            return _first_capture(receipt)
        result = capture_lead(data, source=source, by=by, pipeline=pipeline, at=at)
        SpooledCapture.objects.filter(receipt=receipt).update(
            lead=result.lead, decision=result.decision
        )
    return result


def _first_capture(receipt: str) -> CaptureResult:
    """The answer to a receipt sent again: the lead (or deal) its first
    capture made or joined, with a note saying nothing was added again."""
    first = SpooledCapture.objects.select_related(
        "lead", "decision__lead", "decision__deal"
    ).get(receipt=receipt)
    lead, deal = first.lead, None
    if first.decision is not None:
        lead, deal = first.decision.lead, first.decision.deal
    log.info(
        "inquiry with receipt %s was sent again; captured once, as %s",
        receipt,
        f"lead {lead.pk}" if lead else f"deal {deal.pk}" if deal else "nothing",
    )
    note = "this form was sent before and taken in then; nothing was added again"
    return CaptureResult(False, lead=lead, deal=deal, note=note)


@contextlib.contextmanager
def sender_lock(sender: str) -> Iterator[None]:
    """Hold the spool's lock for `sender` (one of 256, by its tag) across
    processes: while SQLite is busy, a submission's rate-limit check and its
    keeping are one step under it (dealgate.leads.formhits.held). Without a
    spool, or one that cannot be written, there is nothing to keep, and
    nothing to hold."""
    folder = spool_dir()
    if folder is None:
        yield
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        (folder / LOCKS).mkdir(mode=0o700, exist_ok=True)
        handle = open(folder / LOCKS / f"{_tag(sender)[:2]}.lock", "ab")  # noqa: SIM115
    except OSError:
        # Nothing can be kept there either: the submission is refused (503).
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def waiting_from(sender: str, since: dt.datetime) -> int:
    """How many inquiries from `sender` the spool holds that arrived (by the
    wall clock) at or after `since`: the form's rate limit counts them.

    A file whose capture has committed (its receipt is written) is counted
    in the database already, and not here again: the moment before it is
    removed, or after a crash left it. One query, for the files that match.
    """
    folder = spool_dir()
    if folder is None:
        return 0
    tag, first = _tag(sender), f"{since.astimezone(dt.UTC):{_STAMP}}"
    try:
        paths = _waiting(folder)
    except OSError:
        return 0  # nothing can have been kept there either
    receipts = set()
    for path in paths:
        stamp, _, rest = path.name.partition("-")
        parts = rest.removesuffix(".json").split("-")
        if stamp >= first and parts[1:2] == [tag]:
            receipts.add(parts[-1])
    if receipts:
        taken = SpooledCapture.objects.filter(receipt__in=receipts)
        receipts -= set(taken.values_list("receipt", flat=True))
    return len(receipts)


def drain_spool() -> Drained:
    """Take in every waiting inquiry, oldest first (see the module's doc).

    First clears the temporary files crashed writes left (`_clear_leftovers`),
    which needs no database. Stops, leaving the rest for the next sweep, when
    the database is still busy (`busy` set; the sweeper says so once) or
    fails otherwise (logged); a file whose capture is refused, or fails for a
    reason of its own, is set aside. Safe in several processes at once: each
    file is captured by one of them.
    """
    drained = Drained()
    folder = spool_dir()
    if folder is None:
        return drained
    try:
        drained.leftovers = _clear_leftovers(folder)
        paths = _waiting(folder)
    except OSError as exc:
        log.error("the lead spool %s cannot be read: %s", folder, exc.strerror or exc)
        return drained
    for index, path in enumerate(paths):
        try:
            outcome = _take_in(path)
        except OperationalError as exc:
            if not is_busy(exc):
                log.exception("taking in the lead spool %s failed", folder)
            else:
                drained.busy = True
                log.debug("the database is still busy; spooled inquiries wait")
            drained.waiting = len(paths) - index
            break
        except DatabaseError:
            log.exception("taking in the lead spool %s failed", folder)
            drained.waiting = len(paths) - index
            break
        if outcome == "taken":
            drained.taken += 1
        elif outcome == "repeated":
            drained.repeated += 1
        elif outcome == SET_ASIDE:
            drained.set_aside += 1
    if drained.any:
        # Only waiting while the database is busy: the sweeper's own line says
        # so, once, rather than this one on every tick.
        done = drained.taken + drained.repeated + drained.set_aside
        quiet = drained.busy and not (done or drained.leftovers)
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "lead spool %s: %s", folder, drained.summary())
    return drained


# --- keeping -------------------------------------------------------------------


def _keep(entry: _Entry, *, busy: bool = True) -> bool:
    """Write `entry` to the spool, synced to disk; False when it cannot be."""
    return _kept_path(entry, busy=busy) is not None


def _kept_path(entry: _Entry, *, busy: bool = True) -> Path | None:
    """Write `entry` to the spool, synced to disk, and return its file; None
    when it cannot be. `busy`: kept because the database is (logged at
    INFO), else to be taken in once its sender is answered (DEBUG: every
    anonymous inquiry passes there)."""
    folder = spool_dir()
    if folder is None:
        return None
    kept_at = entry.kept_at or timesource.wall_now()
    stamp = f"{kept_at.astimezone(dt.UTC):{_STAMP}}"
    name = f"{stamp}-{entry.channel}-{_tag(entry.sender)}-{entry.receipt}.json"
    try:
        held = len(_waiting(folder))
        if held >= MAX_WAITING:
            log.error(
                "inquiry via %s to pipeline %s refused: the lead spool %s is "
                "full (%s waiting)",
                entry.channel,
                entry.pipeline,
                folder,
                held,
            )
            return None
        _write(folder, name, _encode(entry))
    except OSError as exc:
        log.error(
            "inquiry via %s to pipeline %s could not be kept in the lead spool %s: %s",
            entry.channel,
            entry.pipeline,
            folder,
            exc.strerror or exc,
        )
        return None
    log.log(
        logging.INFO if busy else logging.DEBUG,
        "inquiry via %s to pipeline %s kept in the lead spool as %s: %s",
        entry.channel,
        entry.pipeline,
        entry.receipt,
        "the database is busy with another writer"
        if busy
        else "taken in once its sender is answered",
    )
    return folder / name


def _tag(sender: str) -> str:
    """`sender` as it may stand in a file name: letters and digits, short."""
    return _NOT_TAG.sub("", sender.lower())[:16] or "anyone"


def _encode(entry: _Entry) -> bytes:
    return json.dumps(
        {
            "version": VERSION,
            "receipt": entry.receipt,
            "channel": entry.channel,
            "pipeline": entry.pipeline,
            "by": entry.by,
            "received_at": entry.received_at.isoformat(),
            "data": entry.data,
            "sender": entry.sender,
            "kept_at": entry.kept_at.isoformat() if entry.kept_at else None,
        },
        ensure_ascii=False,
    ).encode()


def _write(folder: Path, name: str, payload: bytes) -> None:
    """Write `name` whole or not at all: a hidden temporary file, synced,
    renamed into place, and the folder synced so that the rename lasts.

    The temporary file is locked for as long as it has that name (until
    after the rename), so that `_clear_leftovers` never touches it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = folder / f".{name}{_TEMPORARY}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
            os.replace(temporary, folder / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync(folder)
    _sync(folder.parent)


def _clear_leftovers(folder: Path) -> int:
    """Remove, or set aside, the temporary files of writes that crashed, in
    the spool and in its set-aside folder; how many. A file younger than
    TEMPORARY_AGE, or locked by the process still writing it, is left alone.
    """
    cleared = 0
    for where in (folder, folder / SET_ASIDE):
        try:
            entries = list(os.scandir(where))
        except FileNotFoundError:
            continue
        for entry in sorted(entries, key=lambda found: found.name):
            if not (entry.name.startswith(".") and entry.name.endswith(_TEMPORARY)):
                continue
            path = Path(entry.path)
            try:
                cleared += _clear_leftover(path, aside=where != folder)
            except OSError as exc:
                # Left where it is, to be tried again: the drain goes on.
                log.error(
                    "lead spool: %s, a temporary file left by a write that "
                    "crashed, could not be cleared: %s",
                    path,
                    exc.strerror or exc,
                )
    return cleared


def _clear_leftover(path: Path, *, aside: bool) -> bool:
    """Handle one temporary file if a crash left it; True if it was."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError):
        return False  # renamed into place, or taken by another drain
    try:
        try:
            # Held by its writer until it is renamed: never touched then.
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        held = os.fstat(descriptor)
        if os.stat(path, follow_symlinks=False).st_ino != held.st_ino:
            return False  # the name is another file's by now
        written = dt.datetime.fromtimestamp(held.st_mtime, dt.UTC)
        age = timesource.wall_now() - written
        if age < TEMPORARY_AGE:
            return False  # perhaps being written: its writer may not lock yet
        _clear_locked(path, held.st_size, age, aside=aside)
        return True
    finally:
        os.close(descriptor)


def _clear_locked(path: Path, size: int, age: dt.timedelta, *, aside: bool) -> None:
    minutes = int(age.total_seconds() // 60)
    meant = path.name.removeprefix(".").removesuffix(_TEMPORARY)
    if size == 0 or aside:
        # Nothing in it to take in; in set-aside/, the reason file of a file
        # set aside, whose reason its ERROR line gave (or would have).
        path.unlink(missing_ok=True)
        _sync(path.parent)
        log.warning(
            "lead spool: removed %s, a temporary file (%d bytes, %d minutes old) "
            "left by a write that crashed before it was renamed into place",
            path,
            size,
            minutes,
        )
        return
    folder = path.parent / SET_ASIDE
    folder.mkdir(mode=0o700, exist_ok=True)
    os.replace(path, folder / meant)
    _sync(path.parent)
    reason = (
        f"left by a write that crashed before it was renamed into place "
        f"(temporary file {path.name}, {size} bytes, {minutes} minutes old): "
        "its sender was never told it was received and may have sent it "
        "again, and it may be incomplete; check the inbox for the lead before "
        "moving it back into the spool"
    )
    _write(folder, f"{meant}.reason.txt", f"{reason}\n".encode())
    log.error(
        "lead spool: %s, a temporary file left by a write that crashed, set "
        "aside as %s (%d bytes, %d minutes old): its sender was never told it "
        "was received; see its reason file before moving it back",
        path,
        folder / meant,
        size,
        minutes,
    )


def _sync(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _waiting(folder: Path) -> list[Path]:
    """The spool's waiting files, oldest first."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    names = sorted(
        entry.name
        for entry in entries
        if entry.name.endswith(".json")
        and not entry.name.startswith(".")
        and entry.is_file()
    )
    return [folder / name for name in names]


# --- taking in -----------------------------------------------------------------


def _take_in(path: Path) -> str:
    """Capture one file, then remove it; "taken", "repeated", SET_ASIDE, or
    "gone" (another sweeper took it in meanwhile)."""
    try:
        entry = _read(path)
    except FileNotFoundError:
        return "gone"
    except SpoolError as exc:
        return _set_aside(path, str(exc))
    try:
        outcome = _capture(entry)
    except DealgateError as exc:
        where = f"{exc.field}: " if exc.field else ""
        return _set_aside(path, f"refused: {where}{exc.message}")
    except DatabaseError:
        raise
    except Exception as exc:
        log.exception("spooled inquiry %s failed to be captured", entry.receipt)
        return _set_aside(path, f"failed: {type(exc).__name__}: {exc}")
    _remove(path)
    return outcome


def _remove(path: Path) -> None:
    """Remove a file taken in, once its capture has committed."""
    path.unlink(missing_ok=True)
    _sync(path.parent)


def _read(path: Path) -> _Entry:
    try:
        raw = json.loads(path.read_bytes())
    except ValueError as exc:
        raise SpoolError(f"not a spooled inquiry: not JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        raise SpoolError(f"not a spooled inquiry of version {VERSION}")
    try:
        received_at = dt.datetime.fromisoformat(raw["received_at"])
        kept_at = raw.get("kept_at")
        entry = _Entry(
            receipt=raw["receipt"],
            channel=raw["channel"],
            pipeline=raw["pipeline"],
            by=raw["by"],
            received_at=received_at,
            data=raw["data"],
            sender=raw.get("sender", ""),
            kept_at=dt.datetime.fromisoformat(kept_at) if kept_at else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SpoolError(f"not a spooled inquiry: {type(exc).__name__} {exc}") from None
    checks = (
        ("receipt", isinstance(entry.receipt, str) and 0 < len(entry.receipt) <= 32),
        ("channel", entry.channel in CHANNELS),
        ("pipeline", isinstance(entry.pipeline, str)),
        ("by", entry.by is None or type(entry.by) is int),
        ("received_at", received_at.tzinfo is not None),
        ("data", isinstance(entry.data, dict)),
        ("sender", isinstance(entry.sender, str)),
        ("kept_at", entry.kept_at is None or entry.kept_at.tzinfo is not None),
    )
    for key, good in checks:
        if not good:
            raise SpoolError(f"not a spooled inquiry: its {key} does not read")
    return entry


def _capture(entry: _Entry) -> str:
    """Capture `entry` with its receipt in one transaction; "taken", or
    "repeated" if its receipt was written before."""
    with transaction.atomic():
        if not _claim(entry):
            log.info(
                "spooled inquiry %s was taken in before; its file is removed",
                entry.receipt,
            )
            return "repeated"
        result = capture_lead(
            entry.data,
            source=entry.channel,
            by=_sender(entry),
            pipeline=pipeline_for_capture(entry.pipeline),
            at=entry.received_at,
        )
        SpooledCapture.objects.filter(receipt=entry.receipt).update(
            lead=result.lead, decision=result.decision
        )
        if _counts(entry):
            # Counted from the spool until now (waiting_from); from here on
            # in the database, in the window it was posted in.
            formhits.count_hit(entry.sender, entry.kept_at)
    log.info(
        "spooled inquiry %s, received %s via %s, taken in: %s",
        entry.receipt,
        entry.received_at.isoformat(timespec="seconds"),
        entry.channel,
        _outcome(result),
    )
    return "taken"


def _counts(entry: _Entry) -> bool:
    """Whether taking `entry` in counts a hit against its sender's rate
    limit: an anonymous one (the form's, a capture token's) filed under its
    client address, which the database had not counted when it was kept. A
    signed-in sender's files bear their user (`user<id>`), not an address."""
    if not entry.sender or entry.kept_at is None or entry.channel == "web":
        return False
    return entry.channel == "form" or not entry.sender.startswith("user")


def _claim(entry: _Entry) -> bool:
    """Write the receipt; False if it was written before. On PostgreSQL a
    second sweeper waits here until the first one's capture commits."""
    try:
        with transaction.atomic():
            SpooledCapture.objects.create(
                receipt=entry.receipt,
                channel=entry.channel,
                received_at=entry.received_at,
                taken_at=timesource.now(),
            )
    except IntegrityError:
        return False
    return True


def _sender(entry: _Entry) -> User | None:
    """Who sent it through the API (`created_by`), if they still exist."""
    if entry.by is None:
        return None
    user = User.objects.filter(pk=entry.by).first()
    if user is None:
        log.warning(
            "spooled inquiry %s: its sender, user %s, no longer exists; "
            "captured without one",
            entry.receipt,
            entry.by,
        )
    return user


def _outcome(result: CaptureResult) -> str:
    if result.created and result.lead is not None:
        return f"lead {result.lead.pk}"
    if result.decision is not None:
        target = result.decision.lead_id or result.decision.deal_id
        kind = "lead" if result.decision.lead_id else "deal"
        return f"attached to {kind} {target}"
    return result.reason


def _set_aside(path: Path, reason: str) -> str:
    """Move `path` to set-aside/ with its reason beside it, and say so."""
    aside = path.parent / SET_ASIDE
    aside.mkdir(mode=0o700, exist_ok=True)
    try:
        os.replace(path, aside / path.name)
    except FileNotFoundError:
        return "gone"
    _sync(path.parent)
    _write(aside, f"{path.name}.reason.txt", f"{reason}\n".encode())
    log.error(
        "spooled inquiry %s set aside in %s: %s; move it back into the "
        "spool to take it in again",
        path.name,
        aside,
        reason,
    )
    return SET_ASIDE
