"""The sweeper acts once on each clock that ran out, by the pipeline's breach
rules: at risk, a notice to the owner, a second window, then the manager."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from dealgate.clocks import sweep as sweep_module
from dealgate.clocks.models import Clock, Delivery, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Activity, Deal

from .conftest import berlin, place_deal

BREACHED, RUNNING = Clock.State.BREACHED, Clock.State.RUNNING


def age_clock(deal) -> Clock:
    """The deal's first age clock (the one of the stage it was placed in)."""
    return Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE).order_by("id")[0]


def breach_rules(pipeline, **table) -> None:
    pipeline.settings = {**pipeline.settings, "breach": table}
    pipeline.save()


@pytest.fixture
def late_deal(pipeline, alice, max_manager, clock):
    """In "inquiry" (2-day limit) since Monday 9:00: due Tuesday 17:00."""
    return place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))


def test_a_clock_that_ran_out_is_breached_at_risk_and_its_owner_told(
    late_deal, alice, clock
):
    result = sweep()

    clock_row = age_clock(late_deal)
    assert (clock_row.state, clock_row.at_risk) == (BREACHED, True)
    assert clock_row.actions == "mark_at_risk,notify,escalate"
    (notice,) = Notice.objects.filter(user=alice)
    assert notice.title == "Over the age limit: Acme rollout"
    # When the limit ran out, said as such: not mistaken for when it entered.
    assert "has been in Inquiry received longer than its limit of" in notice.body
    assert ", which ran out " in notice.body and "(since" not in notice.body
    assert notice.url == f"/deals/{late_deal.pk}/"
    assert (result.due, result.breached, result.notices) == (1, 1, 1)


def test_a_second_sweep_does_nothing_more(late_deal, clock):
    sweep()
    again = sweep()

    assert again.due == 0
    assert Notice.objects.count() == 1


def test_a_clock_not_yet_due_is_left_running(pipeline, alice, clock):
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(10, 9))

    assert sweep().due == 0
    assert age_clock(deal).state == RUNNING


def test_after_one_more_window_the_manager_is_told(late_deal, max_manager, clock):
    sweep()
    breached = age_clock(late_deal)
    # One more window of the same length: 2 business days after Tuesday 17:00
    # end on Thursday at closing, so it escalates from Friday's opening on.
    assert breached.escalate_at == berlin(12, 9)
    assert not Notice.objects.filter(user=max_manager).exists()

    clock.to(berlin(11, 17, 1))
    assert sweep().escalated == 0  # no business time left to act since 17:00
    clock.to(berlin(12, 9))
    result = sweep()

    breached.refresh_from_db()
    assert breached.escalated_at == clock.now
    assert breached.note == "escalated to the manager"
    assert (result.due, result.escalated) == (1, 1)
    (notice,) = Notice.objects.filter(user=max_manager)
    assert notice.kind == Notice.Kind.ESCALATION
    assert notice.title == "Escalated: Acme rollout"
    assert notice.body.startswith("Alice Rep has not acted on Acme rollout")
    assert "2 business days ago." in notice.body
    assert sweep().due == 0


def test_leaving_the_stage_puts_the_deal_right_and_stops_the_escalation(
    late_deal, alice, max_manager, clock
):
    from dealgate.deals.services import move_deal

    sweep()
    move_deal(late_deal.pk, "discovery", by=alice, expected_version=1)

    breached = age_clock(late_deal)
    assert (breached.at_risk, breached.resolved_at) == (False, clock.now)
    clock.to(berlin(12, 17))
    assert sweep().escalated == 0
    assert not Notice.objects.filter(user=max_manager).exists()


def test_a_deal_closed_behind_the_sweepers_back_is_not_escalated(
    late_deal, max_manager, clock
):
    sweep()
    won_at = clock.forward(hours=1)
    Deal.objects.filter(pk=late_deal.pk).update(status="won", closed_at=won_at)
    clock.to(berlin(12, 17))

    result = sweep()

    # Put right when the deal was won, not when the sweep found it.
    breached = age_clock(late_deal)
    assert (result.escalated, breached.resolved_at, breached.note) == (
        0,
        won_at,
        "deal won",
    )
    assert not Notice.objects.filter(user=max_manager).exists()


def test_a_response_logged_without_the_hooks_is_found_before_breaching(
    windows, alice, clock
):
    deal = place_deal(windows, "inquiry", owner=alice, entered=berlin(10, 13))
    # Bulk writes (imports) send no signals: only the sweep's check sees it.
    Activity.objects.bulk_create(
        [
            Activity(
                deal=deal, kind="email", subject="Re", done=True, at=berlin(10, 13, 5)
            )
        ]
    )
    clock.to(berlin(10, 13, 30))

    result = sweep()

    window = Clock.objects.get(deal=deal, kind=Clock.Kind.RESPONSE)
    assert (window.state, window.note) == (Clock.State.MET, "answered")
    assert (result.met, result.breached, result.notices) == (1, 0, 0)


def test_a_deal_lost_behind_the_sweepers_back_in_time_is_cancelled_when_lost(
    late_deal, clock
):
    # Lost on Tuesday at noon, before the limit ran out at 17:00.
    lost_at = berlin(9, 12)
    Deal.objects.filter(pk=late_deal.pk).update(status="lost", closed_at=lost_at)

    result = sweep()

    age = age_clock(late_deal)
    assert (age.state, age.ended_at, age.note) == (
        Clock.State.CANCELLED,
        lost_at,
        "deal lost",
    )
    assert (result.cancelled, result.notices) == (1, 0)


def test_a_follow_up_task_and_a_sequence_are_dated_tasks_with_clocks(
    pipeline, alice, clock
):
    breach_rules(
        pipeline,
        on_breach=["notify", "task", "sequence"],
        sequence=[
            {"after": "0m", "task": "Call the buyer"},
            {"after": "1d", "task": "Send a check-in"},
        ],
    )
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    result = sweep()

    tasks = {
        task.subject: task for task in Activity.objects.filter(deal=deal, kind="task")
    }
    assert set(tasks) == {
        "Follow up: Acme rollout",
        "Call the buyer",
        "Send a check-in",
    }
    # From Wednesday 14:00: the follow-up within one more window (2 days).
    assert tasks["Follow up: Acme rollout"].due_at == berlin(12, 14)
    assert tasks["Call the buyer"].due_at == berlin(10, 14)
    assert tasks["Send a check-in"].due_at == berlin(11, 14)
    assert not any(task.done for task in tasks.values())
    steps = Clock.objects.filter(deal=deal, kind=Clock.Kind.NEXT_STEP)
    assert {step.activity_id for step in steps} == {task.pk for task in tasks.values()}
    assert result.tasks == 3
    (notice,) = Notice.objects.filter(user=alice)
    assert notice.title == "Over the age limit: Acme rollout"
    assert not age_clock(deal).at_risk
    # The sequence step due now is not late at that instant (done now, it
    # would be on time), but is from the next moment on.
    call = steps.get(activity=tasks["Call the buyer"])
    assert call.state == Clock.State.RUNNING
    clock.forward(minutes=1)
    assert sweep().breached == 1
    call.refresh_from_db()
    assert call.state == Clock.State.BREACHED


def test_a_stage_rule_overrides_the_pipeline_default(pipeline, alice, clock):
    breach_rules(
        pipeline,
        on_breach=["notify"],
        stages={"inquiry": {"on_breach": ["mark_at_risk"]}},
    )
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    sweep()

    assert age_clock(deal).actions == "mark_at_risk"
    assert Notice.objects.count() == 0


def test_broken_breach_rules_fall_back_to_the_defaults_and_say_so(
    pipeline, alice, clock, caplog
):
    breach_rules(pipeline, on_breach=["shout"])
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    with caplog.at_level(logging.ERROR, logger="dealgate.clocks"):
        sweep()

    assert age_clock(deal).actions == "mark_at_risk,notify,escalate"
    assert "unknown action 'shout'" in caplog.text


def test_reassign_gives_the_deal_to_the_least_loaded_colleague(
    pipeline, alice, bob, max_manager, clock
):
    breach_rules(pipeline, on_breach=["notify", "reassign"], escalate_after="1h")
    deal = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))

    result = sweep()  # the breach, then its second window an hour later: both due

    deal.refresh_from_db()
    assert deal.responsible == bob
    assert deal.version == 2
    assert result.reassigned == 1
    titles = set(Notice.objects.values_list("user__username", "title"))
    assert ("bob", "Now yours: Acme rollout") in titles
    assert ("alice", "Reassigned: Acme rollout") in titles


def test_reassignments_of_a_batch_are_told_in_one_digest_per_person(
    pipeline, alice, bob, max_manager, clock
):
    breach_rules(pipeline, on_breach=["notify", "reassign"], escalate_after="1h")
    for title in ("Acme rollout", "Birch audit"):
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=title)

    result = sweep()

    assert result.reassigned == 2
    (alices,) = Notice.objects.filter(user=alice, kind=Notice.Kind.REASSIGNED)
    assert alices.title == "Taken from you: 2 deals"
    assert [item["title"].split(" (to ")[0] for item in alices.items] == [
        "Reassigned: Acme rollout",
        "Reassigned: Birch audit",
    ]
    gained = Notice.objects.filter(kind=Notice.Kind.REASSIGNED).exclude(user=alice)
    told = [clock for notice in gained for clock in notice.clock_ids]
    assert len(told) == 2


# One batch, or one clock a batch: a notice told alone is merged into the
# digest a later batch makes, and keeps its side.
@pytest.mark.parametrize("batch_size", [500, 1])
def test_one_who_gains_and_loses_in_a_sweep_is_told_each_counted_and_grouped(
    pipeline, alice, bob, max_manager, clock, batch_size
):
    breach_rules(pipeline, on_breach=["notify", "reassign"], escalate_after="1h")
    for title in ("Acme rollout", "Birch audit"):
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=title)
    place_deal(pipeline, "inquiry", owner=bob, entered=berlin(8, 9), title="Cedar")

    result = sweep(batch_size=batch_size)

    assert result.reassigned == 3
    (alices,) = Notice.objects.filter(user=alice, kind=Notice.Kind.REASSIGNED)
    assert alices.title == "Now yours: 1 deal; taken from you: 2 deals"
    assert "those now yours first, then those taken" in alices.body
    assert [item["title"].split(" (to ")[0] for item in alices.items] == [
        "Now yours: Cedar",
        "Reassigned: Acme rollout",
        "Reassigned: Birch audit",
    ]
    # Alice's went one to Bob and one to Max, the least loaded.
    (bobs,) = Notice.objects.filter(user=bob, kind=Notice.Kind.REASSIGNED)
    assert bobs.title == "Now yours: 1 deal; taken from you: 1 deal"


def test_a_digest_of_gains_alone_says_they_are_now_yours(
    pipeline, alice, bob, max_manager, clock
):
    breach_rules(pipeline, on_breach=["notify", "reassign"], escalate_after="1h")
    for n in range(4):
        place_deal(
            pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=f"D{n}"
        )

    sweep()

    # Two each to Bob and Max, the least loaded in turn.
    (bobs,) = Notice.objects.filter(user=bob, kind=Notice.Kind.REASSIGNED)
    assert bobs.title == "Now yours: 2 deals"
    assert bobs.body == (
        "Each was reassigned because its window ran out and the time allowed "
        "after it passed without action:"
    )


def test_each_notice_is_queued_once_per_channel_switched_on(
    late_deal, bob, settings, clock
):
    settings.SMTP_HOST = "127.0.0.1"
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook/secret-token"
    bob.email = ""
    bob.save()
    late_deal.responsible = None
    late_deal.save()
    place_deal(late_deal.pipeline, "inquiry", owner=bob, entered=berlin(8, 9))
    Clock.objects.update(responsible=None)
    late_deal.owner.email = "alice@example.com"
    late_deal.owner.save()

    sweep()

    rows = sorted(
        Delivery.objects.values_list("notice__user__username", "channel", "state")
    )
    assert rows == [
        ("alice", "email", "pending"),
        ("alice", "webhook", "pending"),
        ("bob", "webhook", "pending"),  # bob has no address: no mail
    ]


def test_a_crash_inside_a_batch_undoes_it_and_the_next_sweep_acts_once(
    pipeline, alice, max_manager, clock, monkeypatch
):
    for n in range(5):
        place_deal(
            pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=f"D{n}"
        )
    written = sweep_module._Batch._write_notices

    def crash_after_writing(self):
        written(self)
        raise RuntimeError("power cut")

    monkeypatch.setattr(sweep_module._Batch, "_write_notices", crash_after_writing)
    with pytest.raises(RuntimeError):
        sweep(batch_size=2)
    monkeypatch.undo()
    assert Clock.objects.filter(state=BREACHED).count() == 0
    assert Notice.objects.count() == 0

    result = sweep(batch_size=2)

    assert (result.due, result.breached, result.batches) == (5, 5, 3)
    told = [clock for notice in Notice.objects.all() for clock in notice.clock_ids]
    assert sorted(told) == sorted(Clock.objects.values_list("pk", flat=True))
    assert Clock.objects.exclude(escalate_at=None).count() == 5


def test_the_sweep_logs_one_info_line_with_counts_and_duration(
    late_deal, clock, caplog
):
    with caplog.at_level(logging.INFO, logger="dealgate.clocks"):
        sweep()

    (line,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "dealgate.clocks" and r.getMessage().startswith("sweep at")
    ]
    assert (
        "1 due clock: 1 breached, 0 met, 0 cancelled; actions: 0 escalations, "
        "1 notice, " in line
    )
    assert line.endswith(" s")


def test_a_breach_with_nobody_responsible_is_counted_and_warned(
    pipeline, clock, caplog
):
    place_deal(pipeline, "inquiry", owner=None, entered=berlin(8, 9))

    with caplog.at_level(logging.WARNING, logger="dealgate.clocks"):
        result = sweep()

    assert (result.breached, result.notices, result.unaddressed) == (1, 0, 1)
    assert "had nobody to notify" in caplog.text


def test_states_are_written_before_effects_in_one_transaction(late_deal, clock):
    # The whole batch is one transaction: inside an outer one, nothing of it
    # is visible to other connections until the outer commit.
    with transaction.atomic():
        sweep()
        assert age_clock(late_deal).state == BREACHED


def test_a_breached_deal_says_when_it_escalates(late_deal, clock):
    from dealgate.clocks.queries import deadlines_for_deals

    sweep()

    (deadline,) = deadlines_for_deals([late_deal.pk], clock.now)[late_deal.pk]
    # Over since Tuesday 17:00 (5 working hours ago); the manager hears of
    # it on Thursday at 17:00, 11 working hours from now.
    assert deadline.text == (
        "5 business hours over the limit, escalates within 1 business day"
    )


def test_each_breach_gets_its_own_second_window(pipeline, alice, max_manager, clock):
    early = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    later = place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 11))

    sweep()

    # Due Tuesday 17:00 and Wednesday 11:00; two more business days each,
    # the first ending at Thursday's closing, late from Friday's opening on.
    assert age_clock(early).escalate_at == berlin(12, 9)
    assert age_clock(later).escalate_at == berlin(12, 11)


def test_a_breached_deal_is_at_risk_until_put_right(late_deal, alice, clock):
    from dealgate.clocks.queries import at_risk_deals
    from dealgate.deals.services import move_deal

    assert at_risk_deals([late_deal.pk]) == set()
    sweep()
    assert at_risk_deals([late_deal.pk]) == {late_deal.pk}

    move_deal(late_deal.pk, "discovery", by=alice, expected_version=1)

    assert at_risk_deals([late_deal.pk]) == set()


def test_several_clocks_of_one_person_in_a_batch_are_told_in_one_digest(
    pipeline, alice, bob, max_manager, clock, settings
):
    settings.SMTP_HOST = "127.0.0.1"
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook/secret-token"
    settings.SITE_URL = "https://crm.example.com"
    for person in (alice, bob):
        person.email = f"{person.username}@example.com"
        person.save()
    alices = [
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=t)
        for t in ("Acme rollout", "Birch audit", "Cedar backup")
    ]
    bobs = place_deal(pipeline, "inquiry", owner=bob, entered=berlin(8, 9))

    result = sweep()

    (digest,) = Notice.objects.filter(user=alice)
    assert (digest.kind, digest.title) == (
        Notice.Kind.BREACH,
        "3 deals ran out of time",
    )
    assert digest.url == "/today/"
    assert digest.deal_id is None and digest.clock_id is None
    assert [item["title"] for item in digest.items] == [
        f"Over the age limit: {deal.title}" for deal in alices
    ]
    assert [item["url"] for item in digest.items] == [
        f"/deals/{deal.pk}/" for deal in alices
    ]
    assert sorted(digest.clock_ids) == sorted(age_clock(deal).pk for deal in alices)
    assert digest.body == "Each has run past its window or limit:"
    # Alone in the batch, Bob's stays a notice about its deal.
    (single,) = Notice.objects.filter(user=bob)
    assert (single.deal_id, single.items) == (bobs.pk, [])
    assert result.notices == 2
    assert sorted(
        Delivery.objects.values_list("notice__user__username", "channel")
    ) == [
        ("alice", "email"),
        ("alice", "webhook"),
        ("bob", "email"),
        ("bob", "webhook"),
    ]


def test_a_sweep_of_several_batches_tells_a_person_in_one_digest(
    pipeline, alice, max_manager, clock, settings
):
    settings.SMTP_HOST = "127.0.0.1"
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook"
    alice.email = "alice@example.com"
    alice.save()
    deals = [
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=t)
        for t in ("A", "B", "C", "D", "E")
    ]

    result = sweep(batch_size=2)

    assert result.batches == 3
    (digest,) = Notice.objects.filter(user=alice)
    assert digest.title == "5 deals ran out of time"
    assert digest.url == "/today/" and digest.deal_id is None
    assert [item["title"] for item in digest.items] == [
        f"Over the age limit: {deal.title}" for deal in deals
    ]
    assert sorted(digest.clock_ids) == sorted(age_clock(deal).pk for deal in deals)
    assert sorted(Delivery.objects.values_list("channel", flat=True)) == [
        "email",
        "webhook",
    ]


def test_a_notice_a_sender_has_taken_is_not_added_to(
    pipeline, alice, max_manager, clock, settings, monkeypatch
):
    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook"
    for title in ("A", "B", "C"):
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=title)
    written = sweep_module._Batch._write_notices

    def sender_between_batches(self):
        # A sender leased every waiting delivery since the last batch.
        Delivery.objects.filter(attempts=0).update(attempts=1)
        written(self)

    monkeypatch.setattr(sweep_module._Batch, "_write_notices", sender_between_batches)

    sweep(batch_size=2)

    notices = Notice.objects.filter(user=alice).order_by("id")
    assert [n.title for n in notices] == [
        "2 deals ran out of time",
        "Over the age limit: C",
    ]


def test_a_manager_gets_one_digest_of_the_escalations_of_a_batch(
    pipeline, alice, bob, max_manager, clock
):
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9))
    place_deal(pipeline, "inquiry", owner=bob, entered=berlin(8, 9), title="Birch")
    sweep()

    clock.to(berlin(12, 9))
    result = sweep()

    assert result.escalated == 2
    (digest,) = Notice.objects.filter(user=max_manager)
    assert digest.kind == Notice.Kind.ESCALATION
    assert digest.title == "Escalated: 2 deals still not acted on"
    assert [item["title"] for item in digest.items] == [
        "Acme rollout (Alice Rep): the stage's age limit",
        "Birch (Bob Rep): the stage's age limit",
    ]


def test_a_digest_counts_deals_not_clocks_and_keeps_the_end_of_long_names(
    pipeline, alice, max_manager, clock
):
    long_title = "Very long rollout " * 16  # 288 characters
    deal = place_deal(
        pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title=long_title
    )
    Activity.objects.create(
        deal=deal,
        kind="task",
        subject="Call back",
        due_at=berlin(9, 9),
        at=berlin(8, 9),
    )
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title="Birch")

    sweep()

    (digest,) = Notice.objects.filter(user=alice)
    assert len(digest.items) == 3  # two age limits and a next step
    assert digest.title == "2 deals ran out of time"
    next_step = next(i for i in digest.items if i["title"].startswith("Next step"))
    assert next_step["title"].endswith("…)")
    assert len(next_step["title"]) < 160


def test_a_digest_keeps_the_entries_it_shows_and_counts_the_rest(
    pipeline, alice, max_manager, clock, monkeypatch
):
    monkeypatch.setattr(sweep_module, "DIGEST_LINES", 2)
    deals = [
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(1 + n, 9), title=t)
        for n, t in enumerate("ABCDE")
    ]

    sweep()

    (digest,) = Notice.objects.filter(user=alice)
    assert digest.title == "5 deals ran out of time"
    # Most overdue first, as claimed: the two shown, three counted.
    assert [item["title"] for item in digest.items] == [
        "Over the age limit: A",
        "Over the age limit: B",
    ]
    assert (digest.more_items, digest.told) == (3, 5)
    assert digest.clock_ids == [age_clock(deal).pk for deal in deals[:2]]


def test_a_digest_added_to_by_later_batches_counts_a_deal_once_though_not_kept(
    pipeline, alice, max_manager, clock, monkeypatch
):
    monkeypatch.setattr(sweep_module, "DIGEST_LINES", 1)
    # Age limits due first: B's, C's, then A's; A's next step is due last, so
    # a later batch tells of A again, whose first entry is only counted.
    a, _, _ = (
        place_deal(pipeline, "inquiry", owner=alice, entered=berlin(day, 9), title=t)
        for day, t in ((3, "A"), (1, "B"), (2, "C"))
    )
    Activity.objects.create(
        deal=a, kind="task", subject="Call back", due_at=berlin(10, 10), at=berlin(3, 9)
    )

    result = sweep(batch_size=3)

    assert result.breached == 4
    (digest,) = Notice.objects.filter(user=alice)
    assert digest.title == "3 deals ran out of time"
    assert [item["title"] for item in digest.items] == ["Over the age limit: B"]
    assert (digest.more_items, digest.told) == (3, 4)


def test_a_digest_counting_entries_another_sweeper_wrote_is_not_added_to(
    pipeline, alice, max_manager, clock
):
    # Written at this instant by a sweeper running beside this one: its
    # counted entries' deals are not known here.
    theirs = Notice.objects.create(
        user=alice,
        kind=Notice.Kind.BREACH,
        title="60 deals ran out of time",
        url="/today/",
        created_at=clock.now,
        items=[{"clock": 1, "title": "Over the age limit: X", "url": "", "deal": 1}],
        more_items=59,
    )
    place_deal(pipeline, "inquiry", owner=alice, entered=berlin(8, 9), title="Birch")

    sweep()

    notices = Notice.objects.filter(user=alice).order_by("id")
    assert [(n.title, n.told) for n in notices] == [
        ("60 deals ran out of time", 60),
        ("Over the age limit: Birch", 1),
    ]
    assert notices[0].pk == theirs.pk
