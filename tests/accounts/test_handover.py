"""A person who leaves hands their work over: deactivating someone who still
holds open deals, open leads, running clocks or open tasks is refused unless
a successor takes all of it, in one transaction, as an ordinary owner change
would move it (`dealgate user set NAME --inactive --hand-to USERNAME`)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass

import pytest

from dealgate import timesource
from dealgate.accounts import services
from dealgate.accounts.models import User
from dealgate.cli import main
from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import lead_task_key, sweep
from dealgate.deals.models import Deal
from dealgate.deals.services import log_activity, move_deal
from dealgate.errors import ValidationError
from dealgate.leads.models import Lead, LeadActivity, LeadAssignment
from dealgate.leads.services import assign_lead
from dealgate.pipelines.models import Stage
from tests.accounts.test_admin_people import change_url, errors_of, form_of
from tests.conftest import NOW

HELD = (
    "1 open deal, 1 open deal of others they are responsible for, 1 open lead, "
    "5 running or overdue clocks and 2 open tasks"
)


def run(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return main(list(argv))


@dataclass
class Work:
    mine: Deal  # alice owns it, with a task
    won: Deal  # alice closed it
    theirs: Deal  # bob owns it; alice owns its stage
    lead: Lead  # assigned to alice, unanswered, with a follow-up task
    lead_task: LeadActivity


def _deal(pipeline, owner: User, title: str) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=title,
        owner=owner,
        created_at=NOW,
        stage_entered_at=NOW,
    )


@pytest.fixture
def work(pipeline, olivia, alice, bob, now) -> Work:
    """What alice holds: an open deal of hers with a task, a deal she won, a
    deal of bob's in the stage she owns, and a lead waiting on her with a
    follow-up task; seven running clocks in all (and a closed deal's none)."""
    pipeline.stages.filter(key="review").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=alice
    )
    mine = _deal(pipeline, alice, "Backup for Contoso")
    move_deal(mine.pk, "discovery", by=alice, expected_version=1)
    log_activity(
        mine.pk,
        kind="task",
        subject="Send the agenda",
        by=alice,
        due_at=NOW + dt.timedelta(days=1),
    )
    won = _deal(pipeline, alice, "Firewall for Fabrikam")
    move_deal(won.pk, "won", by=alice, expected_version=1)
    theirs = _deal(pipeline, bob, "Laptops for Tailspin")
    move_deal(theirs.pk, "review", by=olivia, expected_version=1)
    lead = Lead.objects.create(
        pipeline=pipeline, name="Petra", email="petra@firm.example", channel="api",
        created_at=NOW,
    )  # fmt: skip
    lead = assign_lead(lead.pk, alice, by=olivia)
    task = LeadActivity.objects.create(
        lead=lead, kind="task", subject="Call Petra back", at=NOW,
        due_at=NOW + dt.timedelta(hours=2),
    )  # fmt: skip
    Clock.objects.create(
        kind=Clock.Kind.NEXT_STEP, key=lead_task_key(task.pk), pipeline=pipeline,
        lead=lead, lead_task=task, responsible=alice, window_minutes=120,
        started_at=NOW, due_at=NOW + dt.timedelta(hours=2),
        late_after=NOW + dt.timedelta(hours=2),
    )  # fmt: skip
    return Work(mine, won, theirs, lead, task)


def open_clocks(person: User) -> list[Clock]:
    return list(Clock.objects.filter(responsible=person, is_open=True).order_by("pk"))


def test_deactivating_someone_who_holds_work_is_refused_saying_what_and_how(
    work, alice, monkeypatch, capsys
):
    assert run(monkeypatch, "user", "set", "alice", "--inactive") == 2

    err = capsys.readouterr().err
    assert f"alice still holds {HELD}; name who takes them over: " in err
    assert "dealgate user set alice --inactive --hand-to USERNAME" in err
    alice.refresh_from_db()
    assert alice.is_active
    assert len(open_clocks(alice)) == 5


def test_hand_to_gives_every_open_deal_lead_clock_and_task_to_the_successor(
    work, alice, bob, monkeypatch, capsys
):
    due = {c.pk: c.due_at for c in open_clocks(alice)}

    code = run(monkeypatch, "user", "set", "alice", "--inactive", "--hand-to", "bob")

    assert code == 0
    printed = capsys.readouterr()
    assert f"handed over to bob: {HELD}" in printed.out
    assert (
        "stage 'Proposal reviewed by the buyer' of pipeline new-business is still "
        "owned by alice: while they are inactive, deals entering it go to their "
        "own owners; give it another owner in the builder or the pipeline file"
    ) in printed.err
    alice.refresh_from_db()
    assert not alice.is_active
    mine, won, theirs = (
        Deal.objects.get(pk=d.pk) for d in (work.mine, work.won, work.theirs)
    )
    assert (mine.owner, mine.responsible, mine.version) == (bob, bob, 3)
    assert (theirs.owner, theirs.responsible) == (bob, bob)
    assert won.owner == alice  # closed deals keep their historical owner
    assert open_clocks(alice) == []
    # The same obligations, due when they were: now bob's.
    assert {c.pk: c.due_at for c in open_clocks(bob)} == due


def test_a_handed_over_lead_keeps_its_window_and_records_the_assignment(
    work, alice, bob, olivia
):
    before = Lead.objects.get(pk=work.lead.pk)

    services.change_user("alice", active=False, hand_to="bob", by=olivia)

    lead = Lead.objects.get(pk=work.lead.pk)
    assert (lead.owner, lead.status) == (bob, Lead.Status.ASSIGNED)
    assert (lead.assigned_at, lead.response_due_at) == (
        before.assigned_at,
        before.response_due_at,
    )
    last = LeadAssignment.objects.filter(lead=lead).last()
    assert (last.owner, last.by, last.rule) == (bob, olivia, "manual")
    assert last.reason == (
        "handed over by Olivia Owner: alice left; their work went to bob"
    )
    window = Clock.objects.get(lead=lead, kind=Clock.Kind.RESPONSE, is_open=True)
    assert (window.responsible, window.due_at) == (bob, before.response_due_at)


def test_breaches_after_the_hand_over_tell_the_successor(work, alice, bob):
    services.change_user("alice", active=False, hand_to="bob")

    result = sweep(now=NOW + dt.timedelta(days=60))

    assert result.breached == 5
    breaches = Notice.objects.filter(kind=Notice.Kind.BREACH)
    assert set(breaches.values_list("user__username", flat=True)) == {"bob"}
    # Bob's team has no manager: his escalations go to the admin, naming him.
    (escalation,) = Notice.objects.filter(kind=Notice.Kind.ESCALATION)
    assert escalation.user.username == "olivia"
    assert [item["title"] for item in escalation.items] == [
        "Petra (Bob Rep): a response window",
        "Backup for Contoso (Bob Rep): the stage's age limit",
        "Laptops for Tailspin (Bob Rep): the stage's age limit",
    ]


@pytest.mark.parametrize(
    ("successor", "problem"),
    [
        ("gone", "hand_to: gone may not sign in any more; choose someone active"),
        ("alice", "hand_to: alice cannot hand their work to themselves"),
        ("nobody", "hand_to: no user 'nobody'"),
    ],
)
def test_a_successor_is_someone_else_who_is_active(
    work, alice, monkeypatch, capsys, successor, problem
):
    User.objects.create(username="gone", is_active=False)

    code = run(
        monkeypatch, "user", "set", "alice", "--inactive", "--hand-to", successor
    )

    assert code == 2
    assert problem in capsys.readouterr().err
    alice.refresh_from_db()
    assert alice.is_active
    assert Deal.objects.get(pk=work.mine.pk).owner == alice


def test_handing_over_is_only_for_someone_who_leaves(work, alice, bob):
    with pytest.raises(ValidationError) as refused:
        services.change_user("alice", hand_to="bob")

    assert refused.value.field == "hand_to"
    assert "alice stays active" in refused.value.message
    assert Deal.objects.get(pk=work.mine.pk).owner == alice


def test_a_refusal_midway_leaves_everything_where_it_was(work, alice, bob, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValidationError("the lead changed meanwhile")

    monkeypatch.setattr("dealgate.leads.services.hand_over_lead", refuse)

    with pytest.raises(ValidationError):
        services.change_user("alice", active=False, hand_to="bob")

    alice.refresh_from_db()
    assert alice.is_active
    mine = Deal.objects.get(pk=work.mine.pk)
    assert (mine.owner, mine.version) == (alice, 2)
    assert Deal.objects.get(pk=work.theirs.pk).responsible == alice
    assert len(open_clocks(alice)) == 5


def test_the_hand_over_is_logged_with_counts_and_usernames(
    work, alice, bob, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="dealgate")

    # Logged as it commits; the test's transaction never does.
    with django_capture_on_commit_callbacks(execute=True):
        services.change_user("alice", active=False, hand_to="bob")

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert f"work of alice handed over to bob by system: {HELD}" in lines
    assert f"deal {work.mine.pk}: owner changed from alice to bob by system" in lines
    assert (
        f"deal {work.theirs.pk}: responsible person changed from alice to bob by system"
    ) in lines
    assert f"lead {work.lead.pk} handed over from alice to bob by system" in lines


def test_someone_deactivated_before_can_have_their_work_handed_over(
    work, alice, bob, monkeypatch
):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    assert run(monkeypatch, "user", "set", "alice", "--hand-to", "bob") == 0

    assert Deal.objects.get(pk=work.mine.pk).owner == bob
    assert open_clocks(alice) == []


def test_someone_who_holds_nothing_open_is_deactivated_as_before(
    pipeline, alice, bob, now
):
    won = _deal(pipeline, alice, "Firewall for Fabrikam")
    move_deal(won.pk, "won", by=alice, expected_version=1)

    user = services.change_user("alice", active=False)

    assert not user.is_active
    assert not user.handed_over
    assert Deal.objects.get(pk=won.pk).owner == alice


def test_a_hand_over_s_lead_assignment_is_dated_when_it_happened(work, alice, bob):
    later = NOW + dt.timedelta(hours=1)
    with timesource.frozen_at(later):
        services.change_user("alice", active=False, hand_to="bob")

    assert LeadAssignment.objects.filter(lead=work.lead).last().at == later


def test_the_admin_page_refuses_a_successor_for_someone_who_stays_active(
    admin, work, alice, bob
):
    answer = admin.post(change_url(alice), form_of(alice, hand_to="bob"))

    assert errors_of(answer)["hand_to"] == [
        "alice stays active; work is handed over by someone who leaves "
        "(dealgate user set alice --inactive --hand-to bob)"
    ]
    assert Deal.objects.get(pk=work.mine.pk).owner == alice


def test_the_admin_page_hands_over_and_names_the_stage_still_theirs(
    admin, work, alice, bob, olivia
):
    answer = admin.post(
        change_url(alice), form_of(alice, is_active=False, hand_to="bob"), follow=True
    )

    page = answer.content.decode()
    assert f"Handed over from alice to bob: {HELD}." in page
    assert (
        "Stage &#x27;Proposal reviewed by the buyer&#x27; of pipeline new-business "
        "is still owned by alice"
    ) in page
    last = LeadAssignment.objects.filter(lead=work.lead).last()
    assert (last.owner, last.by) == (bob, olivia)


def test_the_hand_over_list_on_a_persons_page_leaves_them_out(admin, alice, bob):
    html = admin.get(change_url(alice)).content.decode()
    start = html.index('name="hand_to"')
    select = html[start : html.index("</select>", start)]
    offered = set(re.findall(r'<option value="([^"]+)"', select))

    assert "bob" in offered
    assert "alice" not in offered
