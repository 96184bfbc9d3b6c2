"""Loss reasons after a redesign moved closed deals (tester fin).

A lost deal's "stage lost from" is where the buyer left, which its history
keeps. Removing that stage with `--move OLD=NEW` sends its closed deals to
NEW (docs/pipeline-file.md: they keep their outcome), and the losses table
then said they were lost from NEW, a stage they never reached, while time
in stage still lists the retired stage's stays.
"""

from __future__ import annotations

import pytest

from dealgate.insights import queries

from .conftest import filters_for
from .test_retired_stages import apply_redesign, example, manager  # noqa: F401

pytestmark = pytest.mark.django_db


def test_losses_keep_the_stage_a_deal_was_lost_from_after_it_is_removed(
    example,  # noqa: F811
):
    # Deal 12 went inquiry -> discovery -> lost; deal 7 was lost from inquiry.
    apply_redesign(rename={}, drop={"discovery"}, moves={"discovery": "inquiry"})

    found = {
        (row.stage.key, row.reason): row.deals
        for row in queries.losses(filters_for(example))
    }

    assert found.get(("inquiry", "price")) == 1, found
    assert found.get(("discovery", "price")) == 1, found
