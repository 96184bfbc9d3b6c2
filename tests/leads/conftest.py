"""Fixtures for lead tests: a pipeline that routes, and a way to submit.

The pipeline is the suite's `pipeline` (Berlin office hours) with rules:
leads from Germany, Austria or Switzerland go round robin to team Central
(alice and bob; max the manager is in the team too unless said otherwise),
everything else to olivia as the fallback.
"""

from __future__ import annotations

from typing import Any

import pytest

from dealgate.leads import assign

CENTRAL_RULES = [
    {
        "name": "DACH",
        "when": {"country": ["DE", "AT", "CH"]},
        "to": ["user:alice", "user:bob"],
        "how": "round-robin",
    },
    {"name": "everyone else", "to": "user:olivia", "fallback": True},
]


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    # Rules and calendars are memoised per process; tests reuse primary keys.
    assign.forget_cached()


@pytest.fixture
def routed(pipeline, olivia, alice, bob):
    """The suite's pipeline with CENTRAL_RULES; Germany for phone numbers."""
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.calendar = {**pipeline.calendar, "holidays": {"country": "DE"}}
    pipeline.save()
    return pipeline


def inquiry(n: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid inquiry from Germany, different for every `n`."""
    data = {
        "name": f"Person {n}",
        "email": f"person{n}@company{n}.example",
        "company": f"Company {n} GmbH",
        "country": "DE",
        "message": "Please call me back",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}
