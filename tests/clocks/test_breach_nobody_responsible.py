"""A clock that runs out with nobody to tell goes to who takes inquiries in.

Whatever its kind (an age limit, a response window, a next step such as
the task owed on a follow-up), a breach whose clock names nobody who may
sign in (no owner, or one who left) tells the people a follow-up on a deal
or lead nobody owns tells (`leads.dedup.told_instead`): the active person
owning the pipeline's intake stage, else the firm's active admins, each
notice saying why them. Only with neither is it "not notified: nobody to
tell".
"""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.clocks.models import Clock, Notice
from dealgate.clocks.sweep import sweep
from dealgate.deals.models import Deal
from dealgate.leads.services import capture_lead, convert_lead
from dealgate.pipelines.models import Stage
from tests.leads.conftest import inquiry, routed  # noqa: F401 (a fixture)

from .conftest import berlin, place_deal

pytestmark = pytest.mark.django_db

BREACH = Notice.Kind.BREACH


def _intake_owned_by(pipeline, person) -> None:
    Stage.objects.filter(pipeline=pipeline, key="inquiry").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=person
    )


def test_a_late_answer_to_a_follow_up_on_a_deal_nobody_owns_is_told_to_the_admins(
    routed,  # noqa: F811
    olivia,
    alice,
    now,
):
    lead = capture_lead(inquiry(1), source="form").lead
    deal = convert_lead(lead.pk, by=alice)
    # Nobody owns it, as a deal imported with an empty owner column.
    Deal.objects.filter(pk=deal.pk).update(owner=None, responsible=None)
    Clock.objects.filter(deal=deal).update(responsible=None)
    capture_lead(inquiry(1, message="Still waiting for the quote"), source="form")
    (owed,) = Clock.objects.filter(deal=deal, key__endswith=":next_step")
    told = Notice.objects.filter(user=olivia).count()

    sweep(now=owed.due_at + dt.timedelta(hours=1))

    breach = Notice.objects.get(user=olivia, kind=BREACH, deal=deal)
    assert Notice.objects.filter(user=olivia).count() == told + 1
    assert breach.title.startswith("Next step overdue: Answer the follow-up")
    assert breach.body.endswith("its pipeline's intake stage has no owner.")
    owed.refresh_from_db()
    assert owed.state == Clock.State.BREACHED and owed.note == ""


def test_an_age_limit_nobody_owns_tells_the_intake_stages_owner_not_the_admins(
    pipeline, olivia, bob, now
):
    _intake_owned_by(pipeline, bob)
    deal = place_deal(pipeline, "discovery", owner=None, entered=berlin(1, 9))

    result = sweep()

    (breach,) = Notice.objects.filter(kind=BREACH, deal=deal)
    assert breach.user == bob
    assert breach.body.endswith(
        "You are told because nobody who may sign in is responsible for it, "
        "and you own its pipeline's intake stage."
    )
    assert result.unaddressed == 0


def test_a_breach_of_someone_who_left_goes_to_the_intake_stages_owner(
    pipeline, alice, bob, now
):
    _intake_owned_by(pipeline, bob)
    deal = place_deal(pipeline, "discovery", owner=alice, entered=berlin(1, 9))
    alice.is_active = False
    alice.save()

    sweep()

    assert [n.user for n in Notice.objects.filter(kind=BREACH, deal=deal)] == [bob]


def test_an_intake_owner_who_left_passes_it_to_the_admins(pipeline, olivia, bob, now):
    _intake_owned_by(pipeline, bob)
    bob.is_active = False
    bob.save()
    deal = place_deal(pipeline, "discovery", owner=None, entered=berlin(1, 9))

    sweep()

    assert [n.user for n in Notice.objects.filter(kind=BREACH, deal=deal)] == [olivia]


def test_with_no_intake_owner_and_no_admin_nobody_is_told(pipeline, alice, now):
    deal = place_deal(pipeline, "discovery", owner=None, entered=berlin(1, 9))

    result = sweep()

    clock = Clock.objects.get(deal=deal, kind=Clock.Kind.AGE)
    assert (clock.state, clock.note) == (
        Clock.State.BREACHED,
        "not notified: nobody to tell",
    )
    assert result.unaddressed == 1
    assert not Notice.objects.filter(kind=BREACH).exists()
