"""The plan and the refusals of `pipeline apply` count deals and stages in
words that agree with the number (dealgate.core.text): "1 open deal and 2
closed deals", "removed stages 'a', 'b' still hold deals", never "deal(s)"
or "1 open and 2 closed deals"."""

import pytest

from dealgate.deals.models import Deal
from dealgate.pipelines.services import StagesHoldDeals, apply_pipeline, plan_pipeline
from tests.test_pipeline_apply import FILE, applied, deal_in, people, spec_of  # noqa: F401


def _without(text: str, *keys: str) -> str:
    """`text` without the [[stages]] tables of `keys`."""
    for key in keys:
        start = text.index(f'[[stages]]\nkey = "{key}"')
        end = text.index("[[", start + 1)
        text = text[:start] + text[end:]
    return text


@pytest.mark.parametrize(
    ("open_deals", "closed_deals", "held"),
    [
        (1, 0, "1 open deal"),
        (2, 0, "2 open deals"),
        (0, 1, "1 closed deal"),
        (1, 2, "1 open deal and 2 closed deals"),
        (2, 1, "2 open deals and 1 closed deal"),
    ],
)
def test_a_removed_stage_says_how_many_deals_it_holds(
    applied,  # noqa: F811
    open_deals,
    closed_deals,
    held,
):
    old = applied.stages.get(key="old")
    for n in range(open_deals):
        deal_in(old, title=f"open {n}")
    for n in range(closed_deals):
        deal_in(old, status=Deal.Status.LOST, title=f"lost {n}")

    plan = plan_pipeline(spec_of(_without(FILE, "old")))
    moved = plan_pipeline(spec_of(_without(FILE, "old")), moves={"old": "inquiry"})

    assert f"remove stage 'old' (Old stage; holds {held}) -> needs --move old=NEW" in (
        plan.lines()
    )
    assert f"remove stage 'old' (Old stage); move its {held} to 'inquiry'" in (
        moved.lines()
    )


def test_the_refusal_names_one_removed_stage_or_several_in_agreement(
    applied,  # noqa: F811
):
    deal_in(applied.stages.get(key="old"))

    with pytest.raises(StagesHoldDeals) as one:
        apply_pipeline(spec_of(_without(FILE, "old")))
    deal_in(applied.stages.get(key="proposal"))
    text = _without(FILE, "old", "proposal")
    # Without the handoff inquiry -> proposal: the file keeps lead -> inquiry.
    start = text.index('[[handoffs]]\nfrom = "inquiry"')
    text = text[:start] + text[text.index("[[loss_reasons]]") :]
    with pytest.raises(StagesHoldDeals) as two:
        apply_pipeline(spec_of(text))

    assert "nothing applied: removed stage 'old' still holds deals;" in str(one.value)
    assert "nothing applied: removed stages 'proposal', 'old' still hold deals;" in str(
        two.value
    )
