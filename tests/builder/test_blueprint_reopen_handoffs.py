"""A deal lost in a stage and reopened into that same stage was handed over
by no one: the blueprint lists no handoff from a stage to itself and times
no first response for it, in the database and in Python alike. A deal
reopened into another stage still comes from the one it closed from."""

from __future__ import annotations

import pytest

from dealgate.builder.blueprints import blueprint_for
from dealgate.deals.models import Activity

from .test_blueprint_sql import History, at, reference

pytestmark = pytest.mark.django_db


@pytest.fixture
def reopenings(pipeline):
    same = History(pipeline, "inquiry", at(2, 9))
    same.to("discovery", at(2, 13)).to("lost", at(3, 10))
    same.to("discovery", at(4, 9)).to("won", at(5, 16))
    onward = History(pipeline, "inquiry", at(2, 10))
    onward.to("lost", at(3, 11)).to("discovery", at(4, 10)).to("won", at(6, 12))
    for deal, when in [(same.deal, at(4, 11)), (onward.deal, at(4, 12))]:
        Activity.objects.create(deal=deal, kind="call", subject="x", at=when, done=True)


@pytest.mark.parametrize("trace", ["database", "python"])
def test_a_reopening_into_the_stage_it_closed_from_is_no_handoff(
    reopenings, pipeline, trace
):
    found = blueprint_for(pipeline) if trace == "database" else reference(pipeline)

    pairs = {(r.start, r.end) for r in found.responses}
    assert ("discovery", "discovery") not in pairs
    assert all(start != end for start, end in pairs)
    # The first move into discovery and the reopening from inquiry into it
    # are handoffs, each answered by a call.
    into_discovery = found.response("inquiry", "discovery")
    assert into_discovery.minutes.n == 1 and into_discovery.unrecorded == 1
