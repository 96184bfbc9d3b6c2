"""The decisions page asks who may split each row (a manager on their
teams' deals, a rep on their own) in a fixed number of queries, however
many rows it lists: the people a manager's teams hold are read once for the
page, not once a row. Who is offered a Split stays as the service rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealgate.accounts.models import Team
from dealgate.deals.services import check_may_change, managed_people
from dealgate.errors import PermissionDenied
from dealgate.leads.models import DedupDecision
from tests.conftest import NOW, _user
from tests.web.helpers import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def owners(django_user_model, team, max_manager) -> list:
    """Thirty reps, each owning deals: the even ones in max's team, the odd
    ones in a team nobody manages."""
    north = Team.objects.create(name="North")
    return [
        _user(
            django_user_model,
            f"rep{n:02d}",
            "rep",
            team=team if n % 2 == 0 else north,
        )
        for n in range(30)
    ]


def _decisions(pipeline, owners: list) -> list[DedupDecision]:
    """A repeat inquiry attached to a deal of each of `owners`."""
    made = []
    for n, owner in enumerate(owners):
        deal = make_deal(pipeline, "discovery", title=f"Deal {n}", owner=owner)
        made.append(
            DedupDecision.objects.create(
                pipeline=pipeline,
                action=DedupDecision.Action.ATTACHED,
                matched_on="email",
                reason=f"same email as deal {deal.pk}",
                deal=deal,
                at=NOW - dt.timedelta(minutes=n),
            )
        )
    return made


def _may_change(user, deal, managed) -> bool:
    try:
        check_may_change(user, deal, managed=managed)
    except PermissionDenied:
        return False
    return True


def _split_button(decision: DedupDecision) -> str:
    return f"/leads/decisions/{decision.pk}/split/"


def _queries_for_the_page(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/leads/decisions/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["max_manager", "olivia", "alice"])
def test_the_decisions_page_asks_as_many_queries_for_30_rows_as_for_3(
    client, pipeline, owners, alice, olivia, request, who
):
    client.force_login(request.getfixturevalue(who))
    _decisions(pipeline, owners[:3])
    at_3 = _queries_for_the_page(client)

    _decisions(pipeline, owners[3:])
    at_30 = _queries_for_the_page(client)

    assert at_30 == at_3


def test_a_manager_is_offered_the_split_of_their_teams_deals_only(
    client, pipeline, owners, max_manager
):
    client.force_login(max_manager)
    decisions = _decisions(pipeline, owners)

    page = client.get("/leads/decisions/").content.decode()

    offered = [n for n, d in enumerate(decisions) if _split_button(d) in page]
    assert offered == list(range(0, 30, 2))


def test_an_admin_is_offered_every_split_and_a_rep_their_own(
    client, pipeline, owners, olivia
):
    decisions = _decisions(pipeline, owners)

    client.force_login(olivia)
    as_admin = client.get("/leads/decisions/").content.decode()
    client.force_login(owners[3])
    as_rep = client.get("/leads/decisions/").content.decode()

    assert all(_split_button(d) in as_admin for d in decisions)
    assert [n for n, d in enumerate(decisions) if _split_button(d) in as_rep] == [3]


def test_the_teams_read_once_answer_as_asking_of_each_deal(
    pipeline, owners, max_manager, olivia, alice
):
    deals = [make_deal(pipeline, "discovery", owner=o) for o in owners[:4]]
    deals.append(make_deal(pipeline, "discovery", owner=None))
    deals[1].responsible = owners[0]  # outside the team, with one inside
    deals[1].save()

    for user in (max_manager, olivia, alice, owners[1]):
        managed = managed_people(user)
        for deal in deals:
            assert _may_change(user, deal, managed) == _may_change(user, deal, None)
