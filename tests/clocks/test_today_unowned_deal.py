"""An unowned deal's clocks run and breach (the sweep escalates them to the
admins), so the admin's Today, which lists everyone's, must list them too."""

from __future__ import annotations

from dealgate.clocks.queries import people_seen_by, today_for
from dealgate.clocks.sweep import sweep
from dealgate.pipelines.models import Stage
from tests.web.helpers import text_of

from .conftest import berlin, place_deal


def test_admins_today_lists_an_unowned_deal_past_its_age_limit(
    windows, olivia, alice, clock
):
    place_deal(windows, "inquiry", owner=None, entered=berlin(1, 9), title="Nobody's")
    place_deal(windows, "inquiry", owner=alice, entered=berlin(1, 9), title="Alice's")
    sweep()

    today = today_for(people_seen_by(olivia), clock.now)

    titles = [row.clock.deal.title for row in today.over_limit.deadlines]
    assert "Alice's" in titles
    assert "Nobody's" in titles


def test_an_unowned_deal_shows_whom_it_falls_to_on_the_admins_today(
    windows, olivia, alice, clock, client
):
    place_deal(windows, "inquiry", owner=None, entered=berlin(1, 9), title="Nobody's")
    sweep()
    client.force_login(olivia)

    page = text_of(client.get("/today/"))

    assert "Nobody's" in page
    assert "the admins (no one is responsible)" in page
    assert (
        "What is running out for everyone, and for the deals and leads no one is "
        "responsible for" in page
    )
    assert "your team" not in page


def test_a_manager_sees_unowned_deals_only_at_stages_their_team_owns(
    windows, max_manager, team, alice, clock, client
):
    Stage.objects.filter(pipeline=windows, key="discovery").update(
        owner_kind=Stage.OwnerKind.TEAM, owner_team=team
    )
    place_deal(windows, "discovery", owner=None, entered=berlin(1, 9), title="Ours")
    place_deal(windows, "inquiry", owner=None, entered=berlin(1, 9), title="Theirs")
    sweep()

    titles = [
        row.clock.deal.title
        for row in today_for(
            people_seen_by(max_manager), clock.now
        ).over_limit.deadlines
    ]
    assert titles == ["Ours"]
    assert today_for(people_seen_by(alice), clock.now).empty
    # Narrowed to one of the team, the list is that person's alone.
    assert today_for([alice], clock.now).empty

    client.force_login(max_manager)
    page = text_of(client.get("/today/"))
    assert "Ours" in page and "Theirs" not in page
    assert (
        "for you and your teams, and for the deals no one is responsible for at "
        "stages owned by a team you manage" in page
    )
    assert "for Alice Rep, most urgent" in text_of(client.get("/today/?person=alice"))


def test_a_person_outside_a_managers_view_is_named_on_the_not_found_page(
    windows, max_manager, olivia, clock, client
):
    client.force_login(max_manager)

    for address in ("/today/?person=olivia", "/today/more/?person=olivia"):
        response = client.get(address)

        assert response.status_code == 404
        assert 'class="topbar"' in response.content.decode()
        assert "person: no one called 'olivia' in your view" in text_of(response)
