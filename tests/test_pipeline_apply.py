"""Applying pipeline files to the database: plans, idempotence, moves, export."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealgate.clocks.models import Clock
from dealgate.clocks.sweep import sweep
from dealgate.clocks.timeleft import time_left
from dealgate.core import business_time
from dealgate.core.pipeline_file import (
    PipelineFileError,
    dump_pipeline,
    load_pipeline_file,
    parse_pipeline,
)
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.queries import stage_age
from dealgate.errors import NotFound, ValidationError
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Handoff, Pipeline, Stage
from dealgate.pipelines.services import (
    _assign_responsible,
    active_stages,
    apply_pipeline,
    export_pipeline,
    get_pipeline,
    plan_pipeline,
)
from tests.conftest import NOW, REPO_ROOT
from tests.web.helpers import text_of

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"
DEMO = REPO_ROOT / "dealgate" / "demo" / "pipeline.toml"
EARLIER = NOW - dt.timedelta(days=20)

FILE = """\
key = "sales"
name = "Sales"

[calendar]
timezone = "Europe/Berlin"
[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]

[[stages]]
key = "inquiry"
name = "Inquiry received"
buyer_action = "The buyer asked about a need"
owner = "deal-owner"
age_limit_days = 2
probability = 10

[[stages]]
key = "proposal"
name = "Proposal requested"
buyer_action = "The buyer asked for a proposal"
owner = "user:alice"
age_limit_days = 10
probability = 40
exit_criteria = [ { label = "Sent", rule = "held('email', 'proposal')" } ]

[[stages]]
key = "old"
name = "Old stage"
buyer_action = "The buyer did something we no longer track"
owner = "team:Central"
age_limit_days = 5
probability = 60

[[handoffs]]
from = "lead"
to = "inquiry"
response_window = "15m"

[[handoffs]]
from = "inquiry"
to = "proposal"
response_window = "1d"
responsible = "user:alice"

[[loss_reasons]]
key = "price"
label = "Price"
"""


def spec_of(text: str = FILE, **replacements: str):
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_pipeline(text, "sales.toml")


def without_old_stage(text: str = FILE) -> str:
    start = text.index('[[stages]]\nkey = "old"')
    end = text.index("[[handoffs]]")
    return text[:start] + text[end:]


def deal_in(stage: Stage, *, status: str = Deal.Status.OPEN, title: str = "Deal"):
    closed = {"closed_at": NOW - dt.timedelta(days=1)} if status != "open" else {}
    return Deal.objects.create(
        pipeline=stage.pipeline,
        stage=stage,
        status=status,
        title=title,
        created_at=EARLIER,
        stage_entered_at=EARLIER,
        **closed,
    )


@pytest.fixture
def people(alice, max_manager):
    """alice (a rep) and the Central team exist, as the file names them."""
    return alice


@pytest.fixture
def applied(db, people):
    apply_pipeline(spec_of())
    return Pipeline.objects.get(key="sales")


def test_applying_a_new_file_creates_the_pipeline_stages_and_handoffs(db, people):
    plan = apply_pipeline(spec_of())

    pipeline = Pipeline.objects.get(key="sales")
    assert plan.creates
    assert plan.lines()[0] == "create pipeline 'sales' (Sales)"
    assert "add stage 'proposal' (Proposal requested)" in plan.lines()
    assert [s.key for s in active_stages(pipeline)] == ["inquiry", "proposal", "old"]
    assert [s.position for s in active_stages(pipeline)] == [0, 1, 2]
    assert Handoff.objects.filter(pipeline=pipeline).count() == 2
    assert pipeline.settings == {"bottleneck_share": 0.4}


def test_rows_hold_the_file_in_the_documented_shapes(applied):
    proposal = applied.stages.get(key="proposal")
    assert proposal.exit_criteria == {
        "mode": "all",
        "items": [{"label": "Sent", "rule": "held('email', 'proposal')"}],
    }
    assert proposal.entry_criteria == []
    assert applied.loss_reasons == [
        {"key": "price", "label": "Price", "needs_note": False}
    ]
    window = Handoff.objects.get(pipeline=applied, from_stage__key="inquiry")
    assert window.response_window_minutes == 480
    assert window.responsible == "user:alice"
    lead = Handoff.objects.get(pipeline=applied, from_stage=None)
    assert (lead.response_window_minutes, lead.responsible) == (15, "stage-owner")


def test_owners_are_resolved_to_users_and_teams(applied, alice, team):
    stages = {s.key: s for s in applied.stages.all()}

    assert stages["inquiry"].owner_kind == Stage.OwnerKind.DEAL_OWNER
    assert stages["proposal"].owner_kind == Stage.OwnerKind.PERSON
    assert stages["proposal"].owner_user == alice
    assert stages["old"].owner_kind == Stage.OwnerKind.TEAM
    assert stages["old"].owner_team == team


def test_an_unknown_user_or_team_is_an_error_naming_line_and_key(db, people):
    text = FILE.replace('owner = "user:alice"', 'owner = "user:zed"')
    text = text.replace('responsible = "user:alice"', 'responsible = "team:Nowhere"')

    with pytest.raises(PipelineFileError) as caught:
        plan_pipeline(parse_pipeline(text, "sales.toml"))

    lines = text.splitlines()
    owner_line = lines.index('owner = "user:zed"') + 1
    responsible_line = lines.index('responsible = "team:Nowhere"') + 1
    assert [str(p) for p in caught.value.problems] == [
        f"sales.toml:{owner_line}: stages[1].owner: no user with username 'zed'",
        f"sales.toml:{responsible_line}: handoffs[1].responsible: "
        "no team named 'Nowhere'",
    ]
    assert not Pipeline.objects.exists()


def test_applying_the_same_file_twice_changes_nothing_the_second_time(applied):
    before = Pipeline.objects.get(pk=applied.pk).updated_at
    rows = list(Stage.objects.values())

    plan = apply_pipeline(spec_of())

    assert plan.lines() == ["no changes"]
    assert not plan.has_changes
    assert Pipeline.objects.get(pk=applied.pk).updated_at == before
    assert list(Stage.objects.values()) == rows


def test_the_plan_says_what_changes_in_words(applied):
    spec = spec_of(
        without_old_stage(),
        **{
            "age_limit_days = 10": "age_limit_days = 7",
            'name = "Sales"': 'name = "Sales team"',
            'response_window = "15m"': 'response_window = "30m"',
            '[[loss_reasons]]\nkey = "price"': (
                '[[loss_reasons]]\nkey = "other"\nlabel = "Other"\nneeds_note = true'
                '\n[[loss_reasons]]\nkey = "price"'
            ),
        },
    )

    plan = plan_pipeline(spec)

    assert plan.lines() == [
        'change pipeline: name "Sales" -> "Sales team"',
        "change stage 'proposal': age limit 10 -> 7",
        "remove stage 'old' (Old stage)",
        "change handoff lead -> inquiry: window 15m -> 30m",
        "add loss reason 'other' (Other)",
    ]


def test_the_plan_changes_nothing(applied):
    plan_pipeline(spec_of(**{"age_limit_days = 10": "age_limit_days = 7"}))

    assert applied.stages.get(key="proposal").age_limit_days == 10


def test_adding_reordering_and_changing_stages_are_planned_and_applied(applied):
    contract = (
        '[[stages]]\nkey = "contract"\nname = "Contract requested"\n'
        'buyer_action = "The buyer asked for the contract"\nowner = "deal-owner"\n'
        "age_limit_days = 15\nprobability = 80\n\n[[handoffs]]"
    )
    text = without_old_stage().replace("[[handoffs]]", contract, 1)
    text = text.replace('owner = "user:alice"', 'owner = "deal-owner"')
    text = text.replace(
        "probability = 40\n", 'probability = 45\nexit_criteria_mode = "any"\n'
    )

    plan = apply_pipeline(spec_of(text))

    assert "add stage 'contract' (Contract requested)" in plan.lines()
    assert (
        "change stage 'proposal': owner user:alice -> deal-owner, "
        "probability 40% -> 45%, exit criteria: mode all -> any"
    ) in plan.lines()
    keys = [s.key for s in active_stages(applied)]
    assert keys == ["inquiry", "proposal", "contract"]
    assert apply_pipeline(spec_of(text)).lines() == ["no changes"]


def test_a_new_order_of_stages_is_planned_as_a_reorder(applied):
    text = FILE.replace('key = "inquiry"', 'key = "TMP"').replace(
        'key = "old"', 'key = "inquiry"'
    )
    text = text.replace('key = "TMP"', 'key = "old"')
    # Names follow their keys so only the order changes.
    text = text.replace('name = "Inquiry received"', 'name = "@"')
    text = text.replace('name = "Old stage"', 'name = "Inquiry received"')
    text = text.replace('name = "@"', 'name = "Old stage"')

    plan = plan_pipeline(spec_of(text))

    assert "reorder stages: old, proposal, inquiry" in plan.lines()


def test_removing_a_stage_that_holds_deals_is_refused_without_a_move(applied):
    old = applied.stages.get(key="old")
    deal_in(old)
    deal_in(old, title="second")
    deal_in(old, status=Deal.Status.LOST, title="lost one")
    spec = spec_of(without_old_stage())

    plan = plan_pipeline(spec)
    assert (
        "remove stage 'old' (Old stage; holds 2 open deals and 1 closed deal) "
        "-> needs --move old=NEW"
    ) in plan.lines()
    assert [change.needs_move for change in plan.blocked] == ["old"]

    with pytest.raises(ValidationError, match="--move old=NEW"):
        apply_pipeline(spec)
    assert applied.stages.filter(key="old").exists()
    assert Deal.objects.filter(stage=old).count() == 3


def test_a_closed_deal_alone_also_blocks_removing_its_stage(applied):
    deal_in(applied.stages.get(key="old"), status=Deal.Status.WON)

    plan = plan_pipeline(spec_of(without_old_stage()))

    assert plan.blocked
    assert "holds 1 closed deal)" in plan.blocked[0].text


def test_a_move_sends_the_deals_on_and_records_it_in_their_history(applied, now):
    old = applied.stages.get(key="old")
    open_deal = deal_in(old)
    lost_deal = deal_in(old, status=Deal.Status.LOST, title="lost")
    spec = spec_of(without_old_stage())

    plan = apply_pipeline(spec, moves={"old": "proposal"})

    assert (
        "remove stage 'old' (Old stage); move its 1 open deal and 1 closed "
        "deal to 'proposal'"
    ) in plan.lines()
    proposal = applied.stages.get(key="proposal")
    open_deal.refresh_from_db()
    lost_deal.refresh_from_db()
    assert open_deal.stage == proposal and lost_deal.stage == proposal
    assert open_deal.stage_entered_at == now
    assert open_deal.version == 2
    assert open_deal.responsible.username == "alice"  # proposal's owner
    assert lost_deal.status == Deal.Status.LOST
    assert lost_deal.responsible is None
    assert lost_deal.stage_entered_at == EARLIER
    event = StageEvent.objects.get(deal=open_deal)
    assert (event.from_stage, event.to_stage) == (old, proposal)
    assert (event.from_status, event.to_status) == ("open", "open")
    assert (event.at, event.from_entered_at) == (now, EARLIER)
    assert event.source == "pipeline"
    assert event.responsible == open_deal.responsible
    assert "'old' (Old stage) was removed" in event.override_reason
    lost_event = StageEvent.objects.get(deal=lost_deal)
    assert (lost_event.from_status, lost_event.to_status) == ("lost", "lost")
    assert lost_event.from_entered_at == lost_deal.closed_at


def test_moved_open_deals_run_the_age_clock_of_their_new_stage_at_once(applied, now):
    old = applied.stages.get(key="old")
    open_deal = deal_in(old)
    lost_deal = deal_in(old, status=Deal.Status.LOST, title="lost")
    before = Clock.objects.get(deal=open_deal, kind=Clock.Kind.AGE)
    assert (before.stage, before.state) == (old, Clock.State.RUNNING)

    apply_pipeline(spec_of(without_old_stage()), moves={"old": "proposal"})

    before.refresh_from_db()
    # In 'old' for 20 days, past its limit: the stay ended late, so missed.
    assert (before.state, before.ended_at, before.is_open) == ("breached", now, False)
    assert before.resolved_at == now
    assert "'old' removed" in before.note
    clock = Clock.objects.get(deal=open_deal, kind=Clock.Kind.AGE, is_open=True)
    assert clock.stage == applied.stages.get(key="proposal")
    assert clock.started_at == now
    assert clock.window_minutes == 10 * 8 * 60  # the new stage's limit, 8-hour days
    assert clock.responsible.username == "alice"
    assert not Clock.objects.filter(deal=lost_deal).exists()


def _without_limit(spec, key: str):
    """`spec` with stage `key` left without an age limit, as the builder's
    stage form allows (a file must give one)."""
    stages = [
        replace(stage, age_limit_days=None) if stage.key == key else stage
        for stage in spec.stages
    ]
    return replace(spec, stages=type(spec.stages)(stages))


def test_a_changed_age_limit_re_dates_the_running_age_clocks_of_its_stage(applied, now):
    proposal = applied.stages.get(key="proposal")
    deal = deal_in(proposal)
    other = deal_in(applied.stages.get(key="inquiry"))
    untouched = Clock.objects.get(deal=other, kind=Clock.Kind.AGE)

    apply_pipeline(spec_of(**{"age_limit_days = 10": "age_limit_days = 3"}))

    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (clock.state, clock.started_at) == ("running", EARLIER)
    assert clock.window_minutes == 3 * 8 * 60
    calendar = calendar_for(applied)
    assert clock.due_at == business_time.add_business_days(calendar, EARLIER, 3)
    assert Clock.objects.get(pk=untouched.pk).due_at == untouched.due_at


def test_a_raised_age_limit_lifts_a_breach_the_stay_is_no_longer_over(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))  # six business days in
    sweep(now=now)
    breached = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (breached.state, breached.at_risk) == ("breached", True)

    apply_pipeline(spec_of(**{"age_limit_days = 2": "age_limit_days = 8"}))

    breached.refresh_from_db()
    assert (breached.at_risk, breached.resolved_at, breached.is_open) == (
        False,
        now,
        False,
    )
    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, is_open=True)
    assert (clock.state, clock.started_at) == ("running", EARLIER)
    assert clock.due_at == business_time.add_business_days(
        calendar_for(applied), EARLIER, 8
    )
    # As the board counts it, six of eight days is not at risk either.
    assert not Clock.objects.filter(deal=deal, kind="age", at_risk=True).exists()
    # Nothing escalates the lifted breach later.
    assert sweep(now=now + dt.timedelta(days=3)).escalated == 0


def test_a_breach_still_past_a_raised_limit_stays(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    sweep(now=now)

    apply_pipeline(spec_of(**{"age_limit_days = 2": "age_limit_days = 3"}))

    (clock,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    assert (clock.state, clock.at_risk, clock.is_open) == ("breached", True, True)


def test_a_changed_calendar_re_dates_age_clocks_and_response_windows(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    before = (age.due_at, window.due_at)
    assert age.window_minutes == 960

    # Mondays now start at 13:00: both clocks started on a Thursday (EARLIER)
    # and run into the next Monday.
    apply_pipeline(spec_of(**{'mon = ["09:00-17:00"]': 'mon = ["13:00-17:00"]'}))

    applied.refresh_from_db()
    calendar = calendar_for(applied)
    age.refresh_from_db()
    window.refresh_from_db()
    assert age.due_at == business_time.add_business_days(calendar, EARLIER, 2)
    assert age.window_minutes == 2 * calendar.day_minutes
    assert window.due_at == business_time.add(calendar, window.started_at, 15)
    assert age.state == window.state == "running"
    # Two business days are 2 x 6 hours now (the standard day is shorter);
    # the window ends four hours later on that Monday.
    assert (age.window_minutes, before[0]) == (720, age.due_at)
    assert window.due_at - before[1] == dt.timedelta(hours=4)


def test_a_changed_response_window_re_dates_its_running_clocks(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert window.window_minutes == 15

    apply_pipeline(spec_of(**{'response_window = "15m"': 'response_window = "45m"'}))

    window.refresh_from_db()
    calendar = calendar_for(applied)
    assert (window.state, window.window_minutes) == ("running", 45)
    assert window.due_at == business_time.add(calendar, window.started_at, 45)


def test_a_removed_handoff_ends_its_running_response_windows(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    text = FILE.replace(
        '[[handoffs]]\nfrom = "lead"\nto = "inquiry"\nresponse_window = "15m"\n\n', ""
    )
    assert text != FILE

    apply_pipeline(spec_of(text))

    window.refresh_from_db()
    # Its 15 minutes ran out 20 days ago, under the rule then: missed.
    assert (window.state, window.ended_at, window.resolved_at) == ("breached", now, now)
    assert window.note == "the handoff has no response window"


def test_a_stage_left_without_an_age_limit_ends_its_age_clocks(applied, now):
    proposal = applied.stages.get(key="proposal")
    deal = deal_in(proposal)

    apply_pipeline(_without_limit(spec_of(), "proposal"))

    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (clock.state, clock.is_open, clock.ended_at) == ("cancelled", False, now)
    assert clock.note == "stage has no age limit"


def test_a_stage_that_gains_an_age_limit_starts_the_clocks_of_its_open_deals(
    applied, now
):
    apply_pipeline(_without_limit(spec_of(), "proposal"))
    deal = deal_in(applied.stages.get(key="proposal"))
    assert not Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE).exists()

    apply_pipeline(spec_of())

    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE, is_open=True)
    assert (clock.started_at, clock.window_minutes) == (EARLIER, 10 * 8 * 60)


def test_deals_moved_into_a_team_stage_are_shared_as_one_by_one_moves_would(
    applied, now, alice, max_manager
):
    old = applied.stages.get(key="old")
    deals = [deal_in(old, title=f"deal {n}") for n in range(1, 4)]
    Deal.objects.filter(pk__in=[deals[0].pk, deals[1].pk]).update(responsible=alice)
    elsewhere = deal_in(applied.stages.get(key="inquiry"))
    Deal.objects.filter(pk=elsewhere.pk).update(responsible=max_manager)
    spec = spec_of(
        without_old_stage(), **{'owner = "user:alice"': 'owner = "team:Central"'}
    )

    apply_pipeline(spec, moves={"old": "proposal"})

    routed = dict(Deal.objects.values_list("title", "responsible__username"))
    # Loads before: alice 2 (deals 1, 2), max 1. Deal 1 leaves alice for max
    # (1 against 2), deal 2 stays with alice, deal 3 goes to alice (1 against 2).
    assert routed == {
        "deal 1": "max",
        "deal 2": "alice",
        "deal 3": "alice",
        "Deal": "max",
    }
    events = StageEvent.objects.filter(source="pipeline")
    assert {e.deal.title: e.responsible.username for e in events} == {
        "deal 1": "max",
        "deal 2": "alice",
        "deal 3": "alice",
    }


@pytest.mark.parametrize("count", [2, 8])
def test_routing_moved_deals_to_a_team_costs_the_same_queries_for_any_number(
    applied, people, count, django_assert_num_queries
):
    team_stage = applied.stages.get(key="old")
    deals = [deal_in(team_stage, title=f"deal {n}") for n in range(count)]
    open_deals = Deal.objects.filter(pk__in=[deal.pk for deal in deals])
    # One read of the deals, one of the team's loads, one UPDATE per member
    # (alice and max); what was chosen is known without reading it back.
    with django_assert_num_queries(4):
        routed = _assign_responsible(team_stage, open_deals)
    assert sorted(Counter(routed.values()).values()) == [count // 2, count // 2]
    assert routed == dict(open_deals.values_list("pk", "responsible_id"))


@pytest.mark.parametrize("owner", ["team:Central", "user:alice", "deal-owner"])
def test_moving_the_deals_of_a_removed_stage_costs_no_query_per_deal(
    applied, people, owner
):
    old = applied.stages.get(key="old")
    spec = spec_of(
        without_old_stage(), **{'owner = "user:alice"': f'owner = "{owner}"'}
    )

    def queries_to_move(count: int) -> int:
        for n in range(count):
            deal_in(old, title=f"deal {n}")
        with CaptureQueriesContext(connection) as seen, transaction.atomic():
            apply_pipeline(spec, moves={"old": "proposal"})
            transaction.set_rollback(True)
        Deal.objects.filter(stage=old).delete()
        return len(seen.captured_queries)

    assert queries_to_move(2) == queries_to_move(9)


def test_a_stage_kept_by_history_is_retired_and_stays_out_of_the_pipeline(applied, now):
    deal_in(applied.stages.get(key="old"))
    spec = spec_of(without_old_stage())
    apply_pipeline(spec, moves={"old": "proposal"})

    applied.refresh_from_db()
    assert applied.stages.filter(key="old").exists()
    assert [s.key for s in active_stages(applied)] == ["inquiry", "proposal"]
    assert applied.stages.get(key="old").retired_at == now
    assert export_pipeline(applied).stage_keys() == ["inquiry", "proposal"]
    again = apply_pipeline(spec, moves={"old": "proposal"})
    assert again.lines() == [
        "no changes",
        "note: --move old=proposal: there is no stage 'old' to empty",
    ]


def test_a_retired_stage_comes_back_when_a_file_lists_it_again(applied, now):
    deal_in(applied.stages.get(key="old"))
    apply_pipeline(spec_of(without_old_stage()), moves={"old": "proposal"})

    plan = apply_pipeline(spec_of())

    assert "add stage 'old' (Old stage) back; its history was kept" in plan.lines()
    applied.refresh_from_db()
    assert [s.key for s in active_stages(applied)] == ["inquiry", "proposal", "old"]
    assert applied.stages.get(key="old").retired_at is None


def test_a_stage_nothing_refers_to_is_deleted(applied):
    apply_pipeline(spec_of(without_old_stage()))

    assert not Stage.objects.filter(pipeline=applied, key="old").exists()


@pytest.mark.parametrize(
    ("moves", "words"),
    [
        ({"old": "nowhere"}, "'nowhere' is not a stage of the file"),
        ({"inquiry": "proposal"}, "stage 'inquiry' stays in the file"),
    ],
)
def test_a_move_that_cannot_apply_is_refused(applied, moves, words):
    with pytest.raises(ValidationError, match=words):
        plan_pipeline(spec_of(without_old_stage()), moves=moves)


def test_settings_the_file_does_not_own_are_left_alone(applied):
    applied.settings = {**applied.settings, "board_columns": 4}
    applied.save()

    apply_pipeline(
        spec_of(**{'name = "Sales"': 'name = "Sales"\nbottleneck_share = 0.5'})
    )

    applied.refresh_from_db()
    assert applied.settings == {"bottleneck_share": 0.5, "board_columns": 4}


@pytest.mark.parametrize("path", [IT_SERVICES, DEMO], ids=lambda p: p.name)
def test_an_applied_file_exports_to_an_equal_spec(demo_people, path):
    spec = load_pipeline_file(path)
    apply_pipeline(spec)

    exported = export_pipeline(get_pipeline(spec.key))

    assert exported == spec
    assert parse_pipeline(dump_pipeline(exported), "exported.toml") == spec


def test_an_export_of_a_pipeline_built_without_a_file_shows_what_is_missing(pipeline):
    text = dump_pipeline(export_pipeline(pipeline))

    with pytest.raises(PipelineFileError) as caught:
        parse_pipeline(text, "exported.toml")

    keys = {str(p).split(": ")[1] for p in caught.value.problems}
    assert "stages[0].buyer_action" in keys


def test_a_pipeline_built_without_a_file_can_be_taken_over_by_one(
    pipeline, demo_people
):
    spec = load_pipeline_file(IT_SERVICES)
    text = IT_SERVICES.read_text().replace(
        'key = "it-services"', 'key = "new-business"'
    )

    plan = apply_pipeline(parse_pipeline(text))

    assert not plan.creates
    assert export_pipeline(get_pipeline("new-business")).stages == spec.stages


def test_an_unknown_pipeline_key_is_not_found(db):
    with pytest.raises(NotFound, match="no pipeline 'nope'"):
        get_pipeline("nope")


def test_a_lowered_age_limit_re_dates_a_breach_so_every_page_counts_one_figure(
    applied, now
):
    inquiry = applied.stages.get(key="inquiry")
    inquiry.age_limit_days = 4
    inquiry.save(update_fields=["age_limit_days"])
    deal = deal_in(inquiry)  # six business days in: over 4
    sweep(now=now)
    breached = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert breached.state == "breached"
    told = (breached.actions, breached.escalate_at, breached.at_risk)

    apply_pipeline(spec_of(**{"age_limit_days = 2": "age_limit_days = 3"}))

    (clock,) = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    calendar = calendar_for(applied)
    assert (clock.state, clock.is_open, clock.resolved_at) == ("breached", True, None)
    assert clock.due_at == business_time.add_business_days(calendar, EARLIER, 3)
    assert clock.window_minutes == 3 * calendar.day_minutes
    # The breach as the sweep left it: no new notice, no new second window.
    assert (clock.actions, clock.escalate_at, clock.at_risk) == told
    # The header and board count from the stay and the stage's limit; Today
    # and "Running out" from the clock: the same days over the new limit.
    header = stage_age(EARLIER, now, limit=3, calendar=calendar).label
    running_out = time_left(calendar, "age", clock.due_at, now).text
    assert header.endswith(", 3 over the limit")
    assert running_out == "3 business days over the limit"
    assert sweep(now=now).notices == 0


def test_a_changed_response_window_re_dates_a_breach_past_it_and_lifts_one_within(
    applied, now
):
    late = deal_in(applied.stages.get(key="inquiry"), title="Late")
    sweep(now=now)
    window = Clock.objects.get(deal=late, kind=Clock.Kind.RESPONSE)
    assert window.state == "breached"
    calendar = calendar_for(applied)

    apply_pipeline(spec_of(**{'response_window = "15m"': 'response_window = "30m"'}))

    window.refresh_from_db()
    assert (window.state, window.is_open, window.window_minutes) == (
        "breached",
        True,
        30,
    )
    assert window.due_at == business_time.add(calendar, window.started_at, 30)
    assert sweep(now=now).notices == 0

    # Twenty business days allow more than the stay has had: put right, and
    # the window runs again to its new due time.
    apply_pipeline(spec_of(**{'response_window = "15m"': 'response_window = "20d"'}))

    window.refresh_from_db()
    assert (window.is_open, window.resolved_at, window.at_risk) == (False, now, False)
    again = Clock.objects.get(deal=late, kind=Clock.Kind.RESPONSE, is_open=True)
    assert (again.state, again.started_at, again.handoff_id) == (
        "running",
        window.started_at,
        window.handoff_id,
    )
    assert again.due_at == business_time.add(calendar, window.started_at, 20 * 480)


def test_a_removed_handoff_puts_right_its_breached_response_windows(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    sweep(now=now)
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert (window.state, window.is_open) == ("breached", True)
    text = FILE.replace(
        '[[handoffs]]\nfrom = "lead"\nto = "inquiry"\nresponse_window = "15m"\n\n', ""
    )

    apply_pipeline(spec_of(text))

    window.refresh_from_db()
    assert (window.is_open, window.resolved_at, window.at_risk) == (False, now, False)


def test_a_changed_calendar_re_dates_breached_clocks_too(applied, now):
    deal = deal_in(applied.stages.get(key="inquiry"))
    sweep(now=now)
    age = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert age.state == window.state == "breached"

    apply_pipeline(spec_of(**{'mon = ["09:00-17:00"]': 'mon = ["13:00-17:00"]'}))

    applied.refresh_from_db()
    calendar = calendar_for(applied)
    age.refresh_from_db()
    window.refresh_from_db()
    assert age.state == window.state == "breached"
    assert age.due_at == business_time.add_business_days(calendar, EARLIER, 2)
    assert age.window_minutes == 2 * calendar.day_minutes
    assert window.due_at == business_time.add(calendar, window.started_at, 15)


def test_today_and_the_deal_page_count_one_figure_after_a_lowered_limit(
    applied, alice, client, now
):
    inquiry = applied.stages.get(key="inquiry")
    inquiry.age_limit_days = 4
    inquiry.save(update_fields=["age_limit_days"])
    deal = deal_in(inquiry)
    Deal.objects.filter(pk=deal.pk).update(owner=alice, responsible=alice)
    Clock.objects.filter(deal=deal).update(responsible=alice)
    sweep(now=now)

    apply_pipeline(spec_of(**{"age_limit_days = 2": "age_limit_days = 3"}))

    client.force_login(alice)
    today = text_of(client.get("/today/"))
    page = text_of(client.get(reverse("deal", args=[deal.pk])))
    assert "3 business days over the limit" in today
    assert "3 business days over the limit" in page
    assert "of 3 business days, 3 over the limit" in page
    assert "4 business days" not in page + today
