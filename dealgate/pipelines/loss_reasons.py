"""A pipeline's loss reasons, found by what a person or a file wrote.

One rule for every door that takes a loss reason (a move to lost from the
deal page, the board, the API, a bulk move or `dealgate deal move`, and a
deal import): the reason's key ("price") or its label ("Price too high"),
compared as names are (`dealgate.core.names.name_key`: case, runs of
spaces, spaces at either end and invisible characters do not count). The
key is what is stored. A key wins over another reason's label written the
same way (a pipeline file refuses two labels written the same way).

A pipeline that lists no reason still loses deals: the loss note, required
then, says why in words, and no reason key is stored (`unlisted_problem`).

Pure Python: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dealgate.core.names import name_key
from dealgate.core.text import looks_blank


@dataclass(frozen=True)
class LossReasons:
    """A pipeline's loss reasons in the order it lists them, with what finds
    each. Build it once per pipeline (`of`) and ask it per deal."""

    keys: tuple[str, ...]
    labels: tuple[str, ...]
    found_by: Mapping[str, str]
    needing_note: frozenset[str]

    @classmethod
    def of(cls, reasons: Iterable[Mapping[str, Any]] | None) -> LossReasons:
        """From a pipeline's `loss_reasons` (dicts with key, label and
        needs_note, as stored and as the pipeline file writes them)."""
        listed = [r for r in reasons or [] if isinstance(r, Mapping)]
        keys = tuple(str(r.get("key", "")) for r in listed)
        labels = tuple(
            str(r.get("label") or key) for r, key in zip(listed, keys, strict=True)
        )
        found_by: dict[str, str] = {}
        for label, key in zip(labels, keys, strict=True):
            found_by.setdefault(name_key(label), key)
        # Keys last, so that each finds its own reason whatever labels say.
        found_by.update({name_key(key): key for key in keys})
        needing_note = frozenset(
            key for r, key in zip(listed, keys, strict=True) if r.get("needs_note")
        )
        return cls(keys, labels, found_by, needing_note)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def key_for(self, text: str) -> str | None:
        """The key of the reason `text` names by key or label, or None."""
        key = name_key(text)
        return self.found_by.get(key) if key else None

    def needs_note(self, key: str) -> bool:
        return key in self.needing_note

    def label_of(self, key: str) -> str:
        """How a page shows a stored key: its reason's label, or the key
        itself for one the pipeline no longer lists."""
        for known, label in zip(self.keys, self.labels, strict=True):
            if known == key:
                return label
        return key

    def unlisted_problem(self, reason: str, note: str) -> tuple[str, str] | None:
        """For a pipeline that lists no reasons: why a loss with `reason` and
        `note` cannot be recorded, with the field at fault, or None when it
        can. Such a loss stores no reason key; its note is what says why."""
        if not looks_blank(reason):
            return (
                f"loss reason {reason.strip()[:100]!r}: this pipeline lists no loss "
                "reasons; leave the reason empty and say why the deal was lost "
                "in the loss note",
                "loss_reason",
            )
        if looks_blank(note):
            return (
                "this pipeline lists no loss reasons, so a lost deal needs a loss "
                "note saying why it was lost",
                "loss_note",
            )
        return None

    def listed(self) -> str:
        """The reasons as a refusal names them: `price ("Price too high"),
        other ("Other")`, or says that the pipeline lists none."""
        if not self.keys:
            return "this pipeline lists none"
        return ", ".join(
            key if label == key else f'{key} ("{label}")'
            for key, label in zip(self.keys, self.labels, strict=True)
        )
