"""The external ids an import has written so far, held in fixed memory.

Before a batch is written, the importer asks the database which of its ids
are stored already: deals imported before are skipped, and an id written by
an earlier batch of the same file is a repeat. When the pipeline held no
deal from the file's source as the import began, only the second can be
found, and `WrittenIds` rules it out for almost every id without asking:
100,000 lookups of the unique index took PostgreSQL 0.5 s that the
writing thread spent waiting.

It is a Bloom filter: an id it says was not written was not; one it says
may have been written is asked of the database as before. Its memory does
not grow with the file: 2 MiB, so that one id in 7,000 is asked for
nothing after 100,000 ids, one in 80 after 1,000,000.
"""

from __future__ import annotations

from collections.abc import Iterable

# The filter's size in bits (a power of two) and the bits of a hash each of
# its two probes uses.
_BITS = 1 << 24
_SHIFT = 24
_MASK = _BITS - 1


class WrittenIds:
    """An approximate set of strings: no false "absent", rare false "present"."""

    def __init__(self) -> None:
        self._bits = bytearray(_BITS // 8)

    def add(self, ids: Iterable[str]) -> None:
        bits = self._bits
        for text in ids:
            digest = hash(text)
            for place in (digest & _MASK, (digest >> _SHIFT) & _MASK):
                bits[place >> 3] |= 1 << (place & 7)

    def may_hold(self, text: str) -> bool:
        """False when `text` was never added; True when it was, or rarely
        when it was not."""
        digest = hash(text)
        bits = self._bits
        first, second = digest & _MASK, (digest >> _SHIFT) & _MASK
        return bool(
            bits[first >> 3] & (1 << (first & 7))
            and bits[second >> 3] & (1 << (second & 7))
        )
