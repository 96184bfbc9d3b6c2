"""A new order is no way around the gates either: a stage that ends up after a
stage that stood after it (a reorder, a rename into a later place, two
applies in turn) carries its open deals past that stage's exit criteria
without a move. Each such deal meets them, or a manager's override lifts
them for deals of their teams (an admin's for any), and its history says
so; a stage moved earlier, or one without open deals, stays free."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealgate.cli import main
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.deals.models import Activity, Deal
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.pipelines.redesign import GatesRefused, carried_past
from dealgate.pipelines.services import apply_pipeline, plan_pipeline
from tests.builder.conftest import post
from tests.web.helpers import make_deal, text_of

REASON = "The buyer accepted the quote by phone; the letter follows"

STAGE = """
[[stages]]
key = "{key}"
name = "{name}"
buyer_action = "The buyer moved on"
owner = "deal-owner"
age_limit_days = 30
probability = 20
"""
QUOTE_GATE = """exit_criteria = [
  {{ label = "Quote accepted", rule = "deal.custom.quote_accepted == true" }},
]
"""
NAMES = {
    "asked": "Asked",
    "met": "Met",
    "mid": "Midway",
    "late": "Late",
    "quote": "Quote sent",
    "sign": "Signing",
}


def four(*keys: str, skipping: bool = False) -> str:
    """The pipeline file of "four" with `keys` in that order; "quote" has
    the exit criterion "Quote accepted"."""
    text = f'key = "four"\nname = "Four"\nallow_skipping = {str(skipping).lower()}\n'
    text += '[calendar]\ntimezone = "UTC"\nalways_open = true\n'
    for key in keys:
        text += STAGE.format(key=key, name=NAMES[key])
        if key == "quote":
            text += QUOTE_GATE.format()
    text += '[[custom_fields]]\nkey = "quote_accepted"\nlabel = "Quote accepted"\n'
    return text + 'type = "bool"\nchoices = []\n'


ORDER = ("asked", "met", "quote", "sign")
SWAPPED = ("asked", "quote", "met", "sign")
RENAMED_LATE = ("asked", "quote", "late", "sign")


@pytest.fixture
def pipeline(db, olivia, team) -> Pipeline:
    apply_pipeline(parse_pipeline(four(*ORDER)))
    return Pipeline.objects.get(key="four")


@pytest.fixture
def zoe(django_user_model):
    """A rep in no team: no manager's teams hold her deals."""
    return django_user_model.objects.create_user(username="zoe", role="rep")


@pytest.fixture
def d2(pipeline, alice) -> Deal:
    """Alice's deal in "met", its quote not accepted."""
    return make_deal(pipeline, "met", title="D2", owner=alice)


def spec(*keys: str, skipping: bool = False):
    return parse_pipeline(four(*keys, skipping=skipping), "four.toml")


def write(tmp_path: Path, *keys: str) -> str:
    path = tmp_path / "four.toml"
    path.write_text(four(*keys), encoding="utf-8")
    return str(path)


def stage_of(deal: Deal) -> str:
    return Deal.objects.get(pk=deal.pk).stage.key


def notes_of(deal: Deal) -> list[str]:
    """What the system recorded in the deal's activities (a redesign's)."""
    return list(
        Activity.objects.filter(deal=deal, kind="system").values_list(
            "subject", flat=True
        )
    )


def order() -> list[str]:
    return list(
        Stage.objects.filter(pipeline__key="four", retired_at=None)
        .order_by("position")
        .values_list("key", flat=True)
    )


def test_carried_past_names_the_stages_a_later_place_puts_before_the_deals():
    before = ["asked", "met", "quote", "sign"]

    assert carried_past(before, ["asked", "quote", "met", "sign"], "met", "met") == [
        "quote"
    ]
    # A stage added there too is one the deals never passed.
    assert carried_past(before, ["asked", "x", "quote", "met"], "met", "met") == [
        "x",
        "quote",
    ]
    # Moved earlier, or with new stages only before it: nothing passed.
    assert (
        carried_past(before, ["asked", "quote", "met", "sign"], "quote", "quote") == []
    )
    assert carried_past(before, ["asked", "x", "met", "quote"], "met", "met") == []
    # A removed stage's deals sent back to a stage now after one that stood
    # after the removed one.
    assert carried_past(before, ["quote", "asked", "sign"], "met", "asked") == ["quote"]


def test_a_rename_into_a_later_place_is_refused_past_unmet_gates_on_the_cli(
    d2, tmp_path, capsys, now
):
    path = write(tmp_path, *RENAMED_LATE)
    rename = ["pipeline", "apply", path, "--rename", "met=late", "--as", "olivia"]

    dry = main([*rename, "--dry-run"])
    out = capsys.readouterr().out
    refused = main(rename)
    err = capsys.readouterr().err

    # The dry run says applying is refused, and exits as the apply does: it
    # used to end with 0, telling a script that checks first it would apply.
    assert dry == 2
    assert (
        "note: stage 'late' now stands after 'quote' (renamed from 'met'): its 1 "
        "open deal would be carried past the gates of 'quote'"
    ) in out
    assert "note: applying now is refused: " in out
    assert refused == 2
    assert (
        f"deal {d2.pk} (D2) in 'late', now after 'quote': 1 exit criterion of "
        "'Quote sent' is unmet"
    ) in err
    assert "keep 'late' before 'quote' in the order" in err
    assert order() == list(ORDER)
    assert stage_of(d2) == "met"


def test_an_admins_override_carries_a_renamed_stage_later_and_says_so(
    d2, tmp_path, capsys, now
):
    path = write(tmp_path, *RENAMED_LATE)

    applied = main(
        ["pipeline", "apply", path, "--rename", "met=late", "--as", "olivia",
         "--override", REASON]
    )  # fmt: skip

    assert applied == 0, capsys.readouterr().err
    assert order() == list(RENAMED_LATE)
    assert stage_of(d2) == "late"
    (note,) = notes_of(d2)
    assert note.startswith(
        "Pipeline 'four' redesigned by olivia: stage 'late' now stands after "
        f"'quote', so this deal was carried past their gates by override: {REASON}"
    )


def test_the_builder_refuses_a_hand_made_rename_it_did_not_offer(
    d2, manager_client, now
):
    post(manager_client, "/pipelines/four/edit/file/", {"text": four(*RENAMED_LATE)})

    page = manager_client.get("/pipelines/four/apply/").content.decode()
    response = post(
        manager_client,
        "/pipelines/four/apply/",
        {"move-met": "rename:late", "override_reason": REASON},
        status=422,
    )

    assert 'value="rename:late"' not in page
    assert (
        "Deals of Met: keeping it as 'late' is not a choice its list offers"
        in text_of(response)
    )
    assert order() == list(ORDER)
    assert stage_of(d2) == "met"


def test_a_swap_carrying_open_deals_past_a_gate_is_refused_on_the_cli(
    d2, max_manager, tmp_path, capsys, now
):
    path = write(tmp_path, *SWAPPED)

    refused = main(["pipeline", "apply", path, "--as", "max"])
    err = capsys.readouterr().err

    assert refused == 2
    assert (
        "1 deal of stages the new order puts later would move forward past gates"
    ) in err
    assert f"deal {d2.pk} (D2) in 'met', now after 'quote'" in err
    assert "--as USERNAME, or another order of [[stages]])" in err
    assert order() == list(ORDER)


def test_a_manager_may_not_carry_another_teams_deals_past_a_gate(
    d2, pipeline, zoe, max_manager, now
):
    theirs = make_deal(pipeline, "met", title="Theirs", owner=zoe)

    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(spec(*SWAPPED), by=max_manager, override_reason=REASON)

    assert refused.value.verdict.refusals == [
        f"deal {theirs.pk} belongs to someone outside your teams; ask its owner "
        "or their manager (in 'met', now after 'quote')"
    ]
    assert order() == list(ORDER)

    theirs.delete()
    apply_pipeline(spec(*SWAPPED), by=max_manager, override_reason=REASON)
    assert order() == list(SWAPPED)
    assert notes_of(d2)[0].startswith(
        "Pipeline 'four' redesigned by max: stage 'met' now stands after 'quote'"
    )


def test_the_builder_refuses_a_managers_swap_until_the_deals_meet_the_gate(
    d2, manager_client, now
):
    post(manager_client, "/pipelines/four/edit/file/", {"text": four(*SWAPPED)})

    plan = text_of(manager_client.get("/pipelines/four/apply/"))
    refused = post(manager_client, "/pipelines/four/apply/", {}, status=422)

    assert 'stage "Met" now stands after stage "Quote sent"' in plan
    assert "stage 'met' now stands after 'quote'" not in plan
    page = text_of(refused)
    assert "Nothing was applied" in page
    assert f"deal {d2.pk} (D2) in 'met', now after 'quote'" in page
    assert order() == list(ORDER)

    d2.custom = {"quote_accepted": True}
    d2.save()
    post(manager_client, "/pipelines/four/apply/", {})

    assert order() == list(SWAPPED)
    assert notes_of(d2) == [
        "Pipeline 'four' redesigned by max: stage 'met' now stands after 'quote', "
        "so this deal was carried past their gates; it met their exit criteria"
    ]


def test_two_applies_cannot_carry_a_deal_past_a_gate_step_by_step(
    d2, max_manager, tmp_path, capsys, now
):
    first = write(tmp_path, "asked", "mid", "quote", "sign")
    assert main(["pipeline", "apply", first, "--move", "met=mid", "--as", "max"]) == 0
    capsys.readouterr()
    assert stage_of(d2) == "mid"

    second = write(tmp_path, "asked", "quote", "mid", "sign")
    refused = main(["pipeline", "apply", second, "--as", "max"])

    assert refused == 2
    assert f"deal {d2.pk} (D2) in 'mid', now after 'quote'" in capsys.readouterr().err
    assert order() == ["asked", "mid", "quote", "sign"]


def test_two_applies_in_the_builder_cannot_carry_a_deal_past_a_gate(
    d2, manager_client, now
):
    post(
        manager_client,
        "/pipelines/four/edit/file/",
        {"text": four("asked", "mid", "quote", "sign")},
    )
    post(manager_client, "/pipelines/four/apply/", {"move-met": "rename:mid"})
    assert stage_of(d2) == "mid"
    post(
        manager_client,
        "/pipelines/four/edit/file/",
        {"text": four("asked", "quote", "mid", "sign")},
    )

    refused = post(manager_client, "/pipelines/four/apply/", {}, status=422)

    assert f"deal {d2.pk} (D2) in 'mid', now after 'quote'" in text_of(refused)
    assert order() == ["asked", "mid", "quote", "sign"]


def test_a_stage_moved_earlier_or_holding_no_open_deals_reorders_freely(
    pipeline, alice, max_manager, now
):
    make_deal(pipeline, "quote", title="Quoted", owner=alice)
    won = make_deal(pipeline, "met", title="Won", owner=alice, status=Deal.Status.WON)

    plan = apply_pipeline(spec(*SWAPPED), by=max_manager)

    assert order() == list(SWAPPED)
    assert not plan.notes
    assert not Activity.objects.exists()
    assert stage_of(won) == "met"


def test_a_pipeline_that_allows_skipping_reorders_open_deals_freely(
    d2, max_manager, now
):
    apply_pipeline(spec(*ORDER, skipping=True))

    apply_pipeline(spec(*SWAPPED, skipping=True), by=max_manager)

    assert order() == list(SWAPPED)
    assert not Activity.objects.exists()


def test_a_removed_stages_deals_sent_back_past_a_reordered_gate_need_it(
    pipeline, alice, olivia, now
):
    deal = make_deal(pipeline, "met", title="Sent back", owner=alice)

    plan = plan_pipeline(spec("quote", "asked", "sign"), moves={"met": "asked"})
    assert plan.notes[0] == (
        "removed stage 'met' sends its 1 open deal to 'asked', which now stands "
        "after 'quote': each needs their exit criteria, or an override"
    )
    assert plan.page_notes[0] == (
        'removed stage "Met" sends its 1 open deal to stage "Asked", which now '
        'stands after stage "Quote sent": each needs their exit criteria, or an '
        "override"
    )
    with pytest.raises(GatesRefused) as refused:
        apply_pipeline(
            spec("quote", "asked", "sign"), moves={"met": "asked"}, by=olivia
        )

    assert (
        f"deal {deal.pk} (Sent back) of removed 'met', sent to 'asked', now after "
        "'quote': 1 exit criterion of 'Quote sent' is unmet"
    ) in refused.value.message
    assert stage_of(deal) == "met"


def test_a_managers_reason_in_the_builder_carries_the_deals_and_is_kept(
    d2, manager_client, now
):
    post(manager_client, "/pipelines/four/edit/file/", {"text": four(*SWAPPED)})

    page = manager_client.get("/pipelines/four/apply/").content.decode()
    post(manager_client, "/pipelines/four/apply/", {"override_reason": REASON})

    assert 'name="override_reason"' in page
    assert order() == list(SWAPPED)
    (note,) = notes_of(d2)
    assert note.startswith(
        "Pipeline 'four' redesigned by max: stage 'met' now stands after 'quote', "
        f"so this deal was carried past their gates by override: {REASON} (unmet: "
        "1 exit criterion of 'Quote sent' is unmet"
    )
