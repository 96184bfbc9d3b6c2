"""A lead's version: a fingerprint of the lead as a page or the API showed it.

A lead has no version column. Its version is a short digest of each of the
buyer's fields (EDITABLE), then of its owner and its status, in that order,
so that a stale version tells which of them changed (`changed_since`). The
lead's page puts it in every form that changes the lead, the API answers it
with every lead, and the services that change a lead compare it under the
lead's row lock: an edit (`edits.edit_lead`) by the buyer's fields, an
assignment, a disqualification, a conversion, a merge or a task marked done
(`check_version`) by all of them, so a person never acts on a lead that
changed since they looked. A task done by someone else since is refused
apart (`check_task_open`): a lead's version does not cover its tasks.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from dealgate.errors import Conflict, ValidationError

from .models import Lead

# The buyer's fields a person may edit (`edits.edit_lead`), in version order.
EDITABLE = (
    *("name", "email", "phone", "company", "website", "country", "segment"),
    *("company_size", "value", "currency"),
)
# What else a version covers: who has the lead and where it stands.
STATE = ("owner", "status")
VERSIONED = (*EDITABLE, *STATE)
# Hex digits of each field's digest in a version: 32 bits, so a change goes
# unseen once in four billion.
_DIGEST = 8
# A version made before it covered STATE holds the buyer's fields alone; an
# edit still takes one.
_VERSION = re.compile(f"[0-9a-f]{{{_DIGEST * len(EDITABLE)}}}(?:[0-9a-f]{{16}})?")


def lead_version(lead: Lead) -> str:
    """The version of `lead`: a digest of each of VERSIONED, in its order."""
    return "".join(_digest(_value(lead, name)) for name in VERSIONED)


def _value(lead: Lead, name: str) -> Any:
    return lead.owner_id if name == "owner" else getattr(lead, name)


def _digest(value: Any) -> str:
    text = "" if value is None else str(value)
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST // 2).hexdigest()


def is_version(text: Any) -> bool:
    """Whether `text` reads as a version `lead_version` gives."""
    return isinstance(text, str) and _VERSION.fullmatch(text) is not None


def changed_since(
    version: str, lead: Lead, fields: tuple[str, ...] = VERSIONED
) -> list[str]:
    """Those of `fields` whose value `lead` holds now is not the one it held
    at `version` (a version `lead_version` gave); a field a shorter, older
    version does not cover is not compared."""
    now = lead_version(lead)
    changed = []
    for i, name in enumerate(VERSIONED):
        part = slice(i * _DIGEST, (i + 1) * _DIGEST)
        if name in fields and version[part] and version[part] != now[part]:
            changed.append(name)
    return changed


def held_at(version: str, name: str, text: str) -> bool:
    """Whether field `name` (one of VERSIONED) held `text`, as a form shows
    it ("" for none), at `version`: whether a form made on that version left
    the field as it showed it."""
    i = VERSIONED.index(name)
    return version[i * _DIGEST : (i + 1) * _DIGEST] == _digest(text)


def check_version(lead: Lead, version: str | None, doing: str) -> None:
    """Refuse (Conflict) to `doing` on `lead`, read under its row lock, when
    it changed since `version`, naming what changed and, for its owner and
    status, what they are now. None skips the check: an API call that sends
    no version acts on the lead as it is."""
    if version is None:
        return
    if not is_version(version) or len(version) != _DIGEST * len(VERSIONED):
        raise ValidationError(
            "version: send the version of the lead you read (its page's forms "
            "hold it, GET /api/v1/leads/ID answers it), or none",
            field="version",
        )
    changed = changed_since(version, lead)
    if changed:
        raise Conflict(
            f"lead {lead.pk} changed since you read it: "
            f"{', '.join(_now(lead, name) for name in changed)} changed "
            f"meanwhile; nothing was done. Look at it again and {doing} if you "
            "still mean to"
        )


def _now(lead: Lead, name: str) -> str:
    if name == "owner":
        owner = lead.owner
        return f"owner (now {owner.username if owner is not None else 'nobody'})"
    if name == "status":
        return f"status (now {lead.status})"
    return name


def check_task_open(
    task_id: int, where: str, done_by_id: int | None, by: Any | None
) -> None:
    """Refuse (Conflict) to mark task `task_id` on `where` ("lead 12") done
    from a page that showed it open, now that someone else marked it done:
    saying who. Done by `by` themselves (a second click on the same button)
    is no change they missed, and is let through to change nothing."""
    mine = by.pk if by is not None else None
    if done_by_id is not None and done_by_id == mine:
        return
    who = task_doer(done_by_id)
    raise Conflict(
        f"task {task_id} on {where} was marked done meanwhile by {who}; "
        "nothing was done",
        field="task",
    )


def task_doer(user_id: int | None) -> str:
    """Who marked a task done, in words: their username, or "the system" (a
    conversion, the sweep) when no person did."""
    from dealgate.accounts.models import User

    if user_id is None:
        return "the system"
    name = User.objects.filter(pk=user_id).values_list("username", flat=True).first()
    return name or "someone since removed"
