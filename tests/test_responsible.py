"""Who is responsible for a deal in a stage: one rule, whichever way it enters.

A move, an import and a pipeline redesign (the deals of a removed stage moved
on) all route through `dealgate.deals.services.Responsible`; these tests pin
that the three give the same people in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dealgate.core.pipeline_file import parse_pipeline
from dealgate.deals.models import Deal
from dealgate.deals.services import (
    Responsible,
    least_loaded_member,
    move_deal,
    responsible_for,
)
from dealgate.imports.services import import_deals
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.importing import write_csv, write_mapping

STAGE = """
[[stages]]
key = "{key}"
name = "{key} stage"
buyer_action = "The buyer did something"
owner = "{owner}"
age_limit_days = 5
probability = 20
"""
TITLES = ["first", "second", "third"]


def spec_text(owner: str, *, with_old: bool) -> str:
    """Inquiry (the deal's owner), review (`owner`) and, while it lasts, old."""
    text = 'key = "sales"\nname = "Sales"\n[calendar]\ntimezone = "UTC"\n'
    text += "always_open = true\n"
    text += STAGE.format(key="inquiry", owner="deal-owner")
    text += STAGE.format(key="review", owner=owner)
    if with_old:
        text += STAGE.format(key="old", owner="deal-owner")
    return text


def enter_by_move(pipeline: Pipeline, owner: str, by, tmp_path: Path) -> None:
    inquiry = pipeline.stages.get(key="inquiry")
    for title in TITLES:
        deal = Deal.objects.create(
            pipeline=pipeline, stage=inquiry, title=title, owner=by, responsible=by
        )
        move_deal(deal.pk, "review", by=by, expected_version=deal.version)


def enter_by_import(pipeline: Pipeline, owner: str, by, tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        '[columns]\nexternal_id = "Id"\ntitle = "Deal"\nstage = "Stage"\n'
        'owner = "Rep"\n[stages]\nReview = "review"\n',
    )
    rows = "".join(
        f"{n},{title},Review,{by.username}\n" for n, title in enumerate(TITLES)
    )
    path = write_csv(tmp_path, "Id,Deal,Stage,Rep\n" + rows)
    import_deals(path, mapping, pipeline=pipeline)


def enter_by_redesign(pipeline: Pipeline, owner: str, by, tmp_path: Path) -> None:
    old = pipeline.stages.get(key="old")
    for title in TITLES:
        Deal.objects.create(
            pipeline=pipeline, stage=old, title=title, owner=by, responsible=by
        )
    spec = parse_pipeline(spec_text(owner, with_old=False))
    apply_pipeline(spec, moves={"old": "review"})


Enter = Callable[[Pipeline, str, object, Path], None]
PATHS = [
    pytest.param(enter_by_move, id="move"),
    pytest.param(enter_by_import, id="import"),
    pytest.param(enter_by_redesign, id="redesign"),
]


@pytest.fixture
def people(team, alice, bob, olivia):
    """alice and bob make team Central; alice already has one open deal."""
    return alice, bob, olivia


def start(owner: str, people) -> Pipeline:
    alice, _, _ = people
    apply_pipeline(parse_pipeline(spec_text(owner, with_old=True)))
    pipeline = Pipeline.objects.get(key="sales")
    Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="review"),
        title="held",
        owner=alice,
        responsible=alice,
    )
    return pipeline


def routed() -> list[str]:
    deals = Deal.objects.filter(title__in=TITLES).order_by("pk")
    return [deal.responsible.username for deal in deals]


@pytest.mark.parametrize("enter", PATHS)
@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        # Loads alice 1, bob 0: bob; then 1 each, the lower id: alice; then bob.
        ("team:Central", ["bob", "alice", "bob"]),
        ("user:alice", ["alice", "alice", "alice"]),
        ("deal-owner", ["olivia", "olivia", "olivia"]),
    ],
)
def test_deals_entering_a_stage_go_to_the_same_people_whichever_way(
    enter: Enter, owner, expected, people, tmp_path
):
    pipeline = start(owner, people)

    enter(pipeline, owner, people[2], tmp_path)

    assert routed() == expected


def test_a_team_without_active_members_leaves_deals_with_their_owner(people, tmp_path):
    alice, bob, olivia = people
    pipeline = start("team:Central", people)
    type(alice).objects.filter(pk__in=[alice.pk, bob.pk]).update(is_active=False)

    enter_by_redesign(pipeline, "team:Central", olivia, tmp_path)

    assert routed() == ["olivia", "olivia", "olivia"]


def test_responsible_for_names_the_person_the_in_memory_rule_chose(people):
    alice, bob, olivia = people
    pipeline = start("team:Central", people)
    review = pipeline.stages.get(key="review")
    deal = Deal(pipeline=pipeline, stage=review, title="new", owner=olivia)

    expected = Responsible([review])(review.pk, olivia.pk, Deal.Status.OPEN)

    assert responsible_for(review, deal) == bob
    assert expected == bob.pk


def test_a_deal_already_held_in_the_team_counts_for_its_holder_until_it_moves(
    people,
):
    alice, bob, olivia = people
    pipeline = start("team:Central", people)
    review = pipeline.stages.get(key="review")
    route = Responsible([review])

    # bob is less loaded, so a deal alice holds goes to him and leaves her.
    chosen = route(review.pk, olivia.pk, Deal.Status.OPEN, previous=alice.pk)

    assert chosen == bob.pk
    assert route.team(alice.team_id) == {alice.pk: 0, bob.pk: 1}


def test_the_sweepers_colleague_is_chosen_by_the_same_rule_leaving_one_out(people):
    alice, bob, olivia = people
    start("team:Central", people)

    # alice holds one open deal, bob none: bob, unless he is the one left out.
    assert least_loaded_member(alice.team_id) == bob
    assert least_loaded_member(alice.team_id, exclude=bob) == alice
    assert least_loaded_member(alice.team_id, exclude=alice) == bob
