"""A stage whose key changes in place is the same stage: renamed (`--rename
OLD=NEW`, or "Keep it as NEW" on the builder's plan page), its deals stay
in it with their time in stage, age clocks and history; no deal moves."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.builder import drafts
from dealgate.cli import main
from dealgate.clocks import services as clocks
from dealgate.clocks.models import Clock
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.deals.models import Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Handoff, Stage
from dealgate.pipelines.services import apply_pipeline, plan_pipeline
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import make_deal, text_of

RENAMED = IT_SERVICES.read_text(encoding="utf-8").replace(
    '"discovery"', '"discovery-call"'
)


@pytest.fixture
def renamed():
    return parse_pipeline(RENAMED, "renamed.toml")


@pytest.fixture
def in_discovery(it_services, now):
    """A deal three days into "discovery", with its age clock running."""
    deal = make_deal(it_services, "discovery", title="Fabrikam", days_in_stage=3)
    clocks.start_missing_clocks(apply=True, pipeline_id=it_services.pk)
    return deal


def age_clock(deal: Deal) -> tuple[int, dt.datetime]:
    clock = Clock.objects.get(deal=deal, kind="age", state="running")
    return clock.pk, clock.due_at


def test_a_renamed_stage_keeps_its_deals_time_clocks_and_handoffs(
    in_discovery, renamed, olivia
):
    stage = in_discovery.stage
    handoffs = set(Handoff.objects.values_list("pk", flat=True))
    clock = age_clock(in_discovery)

    apply_pipeline(renamed, renames={"discovery": "discovery-call"}, by=olivia)

    deal = Deal.objects.get(pk=in_discovery.pk)
    assert Stage.objects.get(pk=stage.pk).key == "discovery-call"
    assert deal.stage_id == stage.pk
    assert deal.stage_entered_at == in_discovery.stage_entered_at
    assert age_clock(deal) == clock
    assert set(Handoff.objects.values_list("pk", flat=True)) == handoffs
    assert not StageEvent.objects.exists()
    # Applying the file again finds nothing to do.
    plan = apply_pipeline(renamed, renames={"discovery": "discovery-call"})
    assert plan.lines() == [
        "no changes",
        "note: --rename discovery=discovery-call: there is no stage 'discovery'; "
        "'discovery-call' is live",
    ]


def test_the_plan_says_the_rename_keeps_the_deals_time_in_stage(in_discovery, renamed):
    plan = plan_pipeline(renamed, renames={"discovery": "discovery-call"})

    assert plan.lines() == [
        "rename stage 'discovery' to 'discovery-call' (Discovery call booked); "
        "its 1 open deal keeps its time in stage"
    ]


def test_a_move_into_the_new_key_warns_that_time_in_stage_starts_over(
    in_discovery, renamed
):
    plan = plan_pipeline(renamed, moves={"discovery": "discovery-call"})

    assert (
        "note: --move discovery=discovery-call: its open deals enter "
        "'discovery-call' now, so their time in stage and age clocks start over; "
        "if it is the same stage under a new key, --rename discovery=discovery-call "
        "keeps them"
    ) in plan.lines()


@pytest.mark.parametrize(
    ("renames", "moves", "said"),
    [
        ({"discovery": "contract"}, {}, "stage 'contract' exists already"),
        ({"discovery": "nowhere"}, {}, "'nowhere' is not a stage of the file"),
        ({"inquiry": "discovery-call"}, {}, "stage 'inquiry' stays in the file"),
        (
            {"discovery": "discovery-call"},
            {"discovery": "discovery-call"},
            "give stage 'discovery' either --move or --rename, not both",
        ),
    ],
)
def test_a_rename_that_cannot_apply_is_refused_naming_it(
    in_discovery, renamed, renames, moves, said
):
    with pytest.raises(ValidationError) as refused:
        apply_pipeline(renamed, renames=renames, moves=moves)

    assert refused.value.field == "renames"
    assert said in refused.value.message
    assert Deal.objects.get(pk=in_discovery.pk).stage.key == "discovery"


def test_pipeline_apply_rename_keeps_the_time_in_stage(in_discovery, tmp_path, capsys):
    path = tmp_path / "renamed.toml"
    path.write_text(RENAMED, encoding="utf-8")

    blocked = main(["pipeline", "apply", str(path)])
    err = capsys.readouterr().err
    applied = main(
        ["pipeline", "apply", str(path), "--rename", "discovery=discovery-call"]
    )

    assert blocked == 1
    assert "--move discovery=NEW (or --rename discovery=discovery-call)" in err
    assert applied == 0
    deal = Deal.objects.get(pk=in_discovery.pk)
    assert (deal.stage.key, deal.stage_entered_at) == (
        "discovery-call",
        in_discovery.stage_entered_at,
    )


def test_the_builder_offers_to_keep_a_stage_under_its_new_key(
    admin_client, in_discovery, renamed, olivia
):
    working = drafts.working_copy("it-services")
    drafts.replace_draft("it-services", olivia, renamed, seen=working.seen)

    page = admin_client.get("/pipelines/it-services/apply/")
    assert "Keep it as discovery-call: a new key, deals keep their time in stage" in (
        text_of(page)
    )
    post(
        admin_client,
        "/pipelines/it-services/apply/",
        {"move-discovery": "rename:discovery-call"},
    )

    deal = Deal.objects.get(pk=in_discovery.pk)
    assert (deal.stage.key, deal.stage_entered_at) == (
        "discovery-call",
        in_discovery.stage_entered_at,
    )
    assert not StageEvent.objects.exists()


def test_the_builder_refuses_a_rename_to_no_stage_of_the_draft(
    admin_client, in_discovery, renamed, olivia
):
    working = drafts.working_copy("it-services")
    drafts.replace_draft("it-services", olivia, renamed, seen=working.seen)

    response = post(
        admin_client,
        "/pipelines/it-services/apply/",
        {"move-discovery": "rename:nowhere"},
        status=422,
    )

    assert (
        "Deals of Discovery call booked: 'nowhere' is not a stage of the draft"
    ) in text_of(response)
    assert Deal.objects.get(pk=in_discovery.pk).stage.key == "discovery"
