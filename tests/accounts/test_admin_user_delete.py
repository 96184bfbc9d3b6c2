"""People in the admin at /admin/, as a superuser: a person whom deals,
clocks, leads, history or pipelines name is not deleted, the confirm page
says what keeps them and steers to deactivating, which keeps working."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.clocks.models import Clock
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.deals.services import move_deal
from dealgate.leads.models import Lead
from dealgate.pipelines.models import Handoff

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


def moved_deal(pipeline, owner, title: str) -> Deal:
    """A deal of `owner`'s moved into discovery: a stage event by them and an
    age clock running for them."""
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=title,
        owner=owner,
        created_at=T0,
        stage_entered_at=T0,
    )
    return move_deal(deal.pk, "discovery", by=owner, expected_version=1)


def delete_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/delete/"


def test_the_delete_page_of_a_person_with_deals_names_them_and_offers_deactivation(
    admin, pipeline, alice
):
    deals = [moved_deal(pipeline, alice, f"Deal {n}") for n in range(12)]

    page = admin.get(delete_url(alice)).content.decode()

    assert "Cannot delete" in page
    assert (
        "alice is kept: deactivate them instead (untick Active on their change "
        "page and choose in Hand over to who takes their open work, or dealgate "
        "user set alice --inactive --hand-to USERNAME)"
    ) in page
    assert "alice owns or is responsible for 12 deals" in page
    first = deals[0]
    assert (
        f"deal #{first.pk} &#x27;Deal 0&#x27; (open) has alice as its owner "
        "and responsible person"
    ) in page
    assert "and 2 more deals naming alice" in page
    assert "alice is responsible for 24 clocks, 12 of them running" in page
    assert "and 2 more running clocks naming alice" in page
    assert "alice is named in the history: 12 stage events" in page


def test_a_person_with_deals_is_not_deleted_nor_blanked_on_won_deals_and_clocks(
    admin, pipeline, alice
):
    deal = moved_deal(pipeline, alice, "Backup for Contoso")
    Deal.objects.filter(pk=deal.pk).update(status="won", closed_at=T0)
    clock = Clock.objects.get(deal=deal, state="running")

    answer = admin.post(delete_url(alice), {"post": "yes"})

    assert answer.status_code == 200
    assert User.objects.filter(pk=alice.pk).exists()
    deal.refresh_from_db()
    clock.refresh_from_db()
    assert (deal.owner_id, deal.responsible_id) == (alice.pk, alice.pk)
    assert clock.responsible_id == alice.pk


def test_delete_selected_keeps_people_who_are_held_and_says_why(
    admin, pipeline, alice, bob
):
    lead = Lead.objects.create(
        pipeline=pipeline, name="Ann", channel="api", created_at=T0, owner=bob
    )
    moved_deal(pipeline, alice, "Backup for Contoso")

    answer = admin.post(
        "/admin/accounts/user/",
        {
            "action": "delete_selected",
            "_selected_action": [alice.pk, bob.pk],
            "post": "yes",
        },
    )

    page = answer.content.decode()
    assert "bob owns or entered 1 lead" in page
    assert f"lead #{lead.pk} &#x27;Ann&#x27; (new)" in page
    assert "alice owns or is responsible for 1 deal" in page
    assert User.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 2


def test_a_person_named_only_in_the_history_is_kept(admin, pipeline, alice, bob):
    deal = moved_deal(pipeline, alice, "Backup for Contoso")
    Deal.objects.filter(pk=deal.pk).update(owner=bob, responsible=bob)
    Clock.objects.filter(deal=deal).update(responsible=bob)

    admin.post(delete_url(alice), {"post": "yes"})
    page = admin.get(delete_url(alice)).content.decode()

    assert User.objects.filter(pk=alice.pk).exists()
    assert "alice is named in the history: 1 stage event" in page
    assert StageEvent.objects.filter(deal=deal, by=alice).exists()


def test_the_history_line_names_activities_in_the_plural_and_leaves_out_none(
    admin, pipeline, alice, bob
):
    deal = moved_deal(pipeline, bob, "Backup for Contoso")
    for subject in ("First call", "Second call"):
        Activity.objects.create(
            deal=deal, kind="call", subject=subject, done=True, at=T0, by=alice
        )

    page = admin.get(delete_url(alice)).content.decode()

    assert "alice is named in the history: 2 deal activities" in page
    assert "stage event" not in page


def test_a_person_a_pipeline_names_is_kept(admin, pipeline, team, max_manager):
    stage = pipeline.stages.get(key="contract")
    stage.owner_kind, stage.owner_user = "person", max_manager
    stage.save()
    Handoff.objects.create(
        pipeline=pipeline,
        to_stage=pipeline.stages.get(key="inquiry"),
        response_window_minutes=60,
        responsible="user:max",
    )
    pipeline.settings = {"routing": [{"name": "all", "to": "user:max"}]}
    pipeline.save()

    page = admin.get(delete_url(max_manager)).content.decode()

    assert "max owns stage &#x27;Contract out&#x27; of pipeline New business" in page
    assert "max is responsible for the handoff into &#x27;Inquiry received" in page
    assert "routing rules of pipeline New business send leads to max" in page
    assert "max manages team Central" in page


def test_a_person_nothing_names_is_deleted(admin, pipeline, bob):
    answer = admin.post(delete_url(bob), {"post": "yes"})

    assert answer.status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()


def test_a_held_person_is_deactivated_on_their_change_page_handing_over_to_another(
    admin, pipeline, alice, bob
):
    deal = moved_deal(pipeline, alice, "Backup for Contoso")
    page = admin.get(f"/admin/accounts/user/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "is_active")
    }
    data |= {
        "groups": [],
        "user_permissions": [],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-06-01",
        "date_joined_1": "09:00:00",
        "team": alice.team_id,
        "calendar": "{}",
        "hand_to": "bob",
        "_save": "Save",
    }

    answer = admin.post(f"/admin/accounts/user/{alice.pk}/change/", data)

    assert answer.status_code == 302, answer.context["adminform"].form.errors
    alice.refresh_from_db()
    deal.refresh_from_db()
    assert not alice.is_active
    assert (deal.owner_id, deal.responsible_id) == (bob.pk, bob.pk)
    # The history keeps naming her.
    assert deal.events.filter(by=alice).exists()


def test_a_running_clock_that_keeps_a_person_is_due_in_its_pipelines_zone_named(
    admin, pipeline, alice
):
    deal = moved_deal(pipeline, alice, "Rollout")
    clock = Clock.objects.filter(deal=deal, state=Clock.State.RUNNING).first()
    Clock.objects.filter(pk=clock.pk).update(
        due_at=dt.datetime(2026, 6, 5, 15, 0, tzinfo=dt.UTC)
    )

    page = admin.get(delete_url(alice)).content.decode()

    # 15:00 UTC is 17:00 in Berlin, the pipeline's zone, in summer.
    assert "due 2026-06-05 17:00 Europe/Berlin" in page
    assert "UTC" not in page
