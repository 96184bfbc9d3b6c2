"""Digests of content a page showed, sent back with its form, so that a save
made on what has changed since is told apart from one made on what is
stored (the builder's drafts, a pipeline's routing rules)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_digest(data: Any) -> str:
    """A short digest of `data` (anything JSON holds): equal data, with keys
    in any order, give equal digests."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
