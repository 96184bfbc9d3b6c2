"""`active_stages`: the one way to the live stages of a pipeline in order,
and so to "the first stage", when a retired stage shares a live one's
position."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from dealgate.deals.services import check_move, create_deal
from dealgate.errors import ValidationError
from dealgate.pipelines.models import active_stages, layout_for
from tests.importing import retire_the_first_stage

LIVE = ["discovery", "proposal", "review", "contract"]


def test_a_retired_stage_at_a_live_ones_position_is_left_out(pipeline):
    retire_the_first_stage(pipeline)

    assert [stage.key for stage in active_stages(pipeline)] == LIVE
    assert active_stages(pipeline).first().key == "discovery"


def test_the_layout_gives_the_live_stages_in_the_same_order(pipeline):
    retire_the_first_stage(pipeline)
    pipeline.refresh_from_db()

    assert [stage.key for stage in layout_for(pipeline).open_stages()] == LIVE


def test_a_deal_made_without_a_stage_starts_in_the_first_live_one(pipeline, alice, now):
    retire_the_first_stage(pipeline)

    deal = create_deal(pipeline, {"title": "Orbit migration"}, by=alice)

    assert deal.stage.key == "discovery"


def test_a_move_into_the_retired_stage_is_refused_naming_it(pipeline, now):
    retire_the_first_stage(pipeline)
    deal = Deal.objects.get()

    with pytest.raises(ValidationError, match="has no stage 'inquiry'"):
        check_move(deal, "inquiry", now=now)
