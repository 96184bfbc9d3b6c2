"""Marking a deal's task done from what the deal page or an API call read:
a deal changed since (moved, given to someone else, edited) or a task
someone else marked done meanwhile is a 409 saying so, and the task stays
as it was; a person's own second click changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.errors import Conflict

from .helpers import make_deal, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(pipeline, alice, now) -> Deal:
    return make_deal(pipeline, "inquiry", title="Helpdesk", owner=alice)


@pytest.fixture
def task(deal, alice, now) -> Activity:
    return services.log_activity(
        deal.pk,
        kind="task",
        subject="Send the proposal",
        due_at=now + dt.timedelta(days=2),
        by=alice,
    )


def _done(client, deal: Deal, task: Activity, version: int):
    return client.post(
        reverse("deal-task-done", args=[deal.pk, task.pk]), {"version": version}
    )


def test_a_task_done_on_a_deal_changed_since_is_refused_naming_both_versions(
    deal, task, alice
):
    seen = deal.version
    Deal.objects.filter(pk=deal.pk).update(version=seen + 1)

    with pytest.raises(Conflict) as refused:
        services.complete_task(deal.pk, task.pk, by=alice, expected_version=seen)

    assert refused.value.message.startswith(
        f"deal {deal.pk} changed since you loaded it (your version {seen}, now "
        f"{seen + 1}); nothing was done"
    )
    task.refresh_from_db()
    assert not task.done


def test_the_page_sends_the_deal_version_with_a_tasks_done(client, deal, task, alice):
    client.force_login(alice)

    page = client.get(reverse("deal", args=[deal.pk])).content.decode()

    form = page[page.index(reverse("deal-task-done", args=[deal.pk, task.pk])) :]
    assert f'name="version" value="{deal.version}"' in form[: form.index("</form>")]


def test_a_stale_page_marking_a_task_done_is_409_and_the_task_stays_open(
    client, deal, task, alice, max_manager
):
    client.force_login(alice)
    seen = deal.version
    services.update_deal(
        deal.pk, {"title": "Helpdesk 2"}, by=max_manager, expected_version=seen
    )

    response = _done(client, deal, task, seen)

    assert response.status_code == 409
    assert "This deal changed since you opened it" in text_of(response)
    task.refresh_from_db()
    assert not task.done


def test_a_task_someone_else_did_meanwhile_is_409_saying_who(
    client, deal, task, alice, max_manager
):
    client.force_login(alice)
    services.complete_task(deal.pk, task.pk, by=max_manager)

    response = _done(client, deal, task, deal.version)

    assert response.status_code == 409
    assert f"marked done by {max_manager.username}" in text_of(response)
    task.refresh_from_db()
    assert task.done_by == max_manager


def test_ones_own_second_click_goes_back_to_the_deal(client, deal, task, alice):
    client.force_login(alice)

    first = _done(client, deal, task, deal.version)
    again = _done(client, deal, task, deal.version)

    assert (first.status_code, again.status_code) == (302, 302)


def test_a_form_without_the_version_is_refused_and_does_nothing(
    client, deal, task, alice
):
    client.force_login(alice)

    response = client.post(reverse("deal-task-done", args=[deal.pk, task.pk]))

    assert response.status_code == 422
    task.refresh_from_db()
    assert not task.done


@pytest.mark.parametrize("sent", ["{v}", '"{v}"', 'W/"{v}"'])
def test_the_api_takes_the_version_read_as_if_match(client, deal, task, alice, sent):
    client.force_login(alice)
    url = f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done"

    stale = client.post(url, headers={"If-Match": sent.format(v=deal.version + 1)})
    done = client.post(url, headers={"If-Match": sent.format(v=deal.version)})

    assert stale.status_code == 409
    assert "changed since you loaded it" in stale.json()["message"]
    assert done.status_code == 200 and done.json()["done_by"] == "alice"


def test_the_api_refuses_an_if_match_that_is_no_version(client, deal, task, alice):
    client.force_login(alice)

    response = client.post(
        f"/api/v1/deals/{deal.pk}/tasks/{task.pk}/done", headers={"If-Match": "abc"}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "version"
    task.refresh_from_db()
    assert not task.done
