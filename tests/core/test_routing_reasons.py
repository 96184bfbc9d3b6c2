"""The reason a routing pick gives, in words that agree with its counts."""

from __future__ import annotations

from dealgate.core.routing import LEAST_LOADED, Candidate, pick


def test_least_loaded_counts_the_load_and_the_ties_in_the_singular_and_plural():
    one_tie = pick(
        LEAST_LOADED,
        [Candidate(1, "alice", load=1), Candidate(2, "bob", load=1)],
        {},
    )
    two_ties = pick(
        LEAST_LOADED,
        [Candidate(key, name, load=3) for key, name in enumerate("xyz", start=1)],
        {},
    )
    alone = pick(LEAST_LOADED, [Candidate(1, "alice", load=0)], {})

    assert one_tie.reason == "least loaded: alice has 1 open lead, tied with 1 other"
    assert two_ties.reason == "least loaded: x has 3 open leads, tied with 2 others"
    assert alone.reason == "least loaded: alice has 0 open leads"
