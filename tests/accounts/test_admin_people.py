"""People and teams changed in the admin at /admin/, as a superuser: through
the services `dealgate user` and `dealgate team` use, with their checks shown
beside the field and what they did besides shown as a message."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.accounts.models import Team, User
from dealgate.deals.models import Deal
from dealgate.deals.services import move_deal
from dealgate.pipelines.models import Handoff
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def change_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def form_of(user: User, **changes) -> dict:
    """The person's change form as loaded, with `changes` typed in (a
    checkbox left out of `changes` as False is unticked)."""
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "team": user.team_id or "",
        "is_active": "on" if user.is_active else "",
        "calendar": "{}",
        "_save": "Save",
    }
    data |= changes
    return {name: value for name, value in data.items() if value is not False}


def errors_of(answer) -> dict:
    return answer.context["adminform"].form.errors


def test_deactivating_a_manager_in_the_admin_leaves_their_team_without_one_and_says_so(
    admin, team, max_manager
):
    answer = admin.post(
        change_url(max_manager), form_of(max_manager, is_active=False), follow=True
    )

    max_manager.refresh_from_db()
    team.refresh_from_db()
    assert not max_manager.is_active
    assert team.manager is None
    page = answer.content.decode()
    assert "Team Central has no manager now: max no longer leads it" in page


def test_deactivating_a_person_with_open_deals_is_refused_beside_hand_over_to(
    admin, pipeline, alice
):
    with timesource.frozen_at(T0):
        deal = Deal.objects.create(
            pipeline=pipeline,
            stage=pipeline.stages.get(key="inquiry"),
            title="Backup for Contoso",
            owner=alice,
            created_at=T0,
            stage_entered_at=T0,
        )
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)

        answer = admin.post(change_url(alice), form_of(alice, is_active=False))

    assert errors_of(answer)["hand_to"] == [
        "alice still holds 1 open deal and 1 running or overdue clock: choose who "
        "takes them over here, then save again (or hand each over on its page "
        "first)."
    ]
    alice.refresh_from_db()
    assert alice.is_active


def test_deactivating_a_person_with_a_successor_in_the_admin_hands_over_and_says_so(
    admin, pipeline, alice, bob
):
    with timesource.frozen_at(T0):
        deal = Deal.objects.create(
            pipeline=pipeline,
            stage=pipeline.stages.get(key="inquiry"),
            title="Backup for Contoso",
            owner=alice,
            created_at=T0,
            stage_entered_at=T0,
        )
        move_deal(deal.pk, "discovery", by=alice, expected_version=1)

        answer = admin.post(
            change_url(alice),
            form_of(alice, is_active=False, hand_to="bob"),
            follow=True,
        )

    deal.refresh_from_db()
    alice.refresh_from_db()
    assert not alice.is_active
    assert (deal.owner, deal.responsible) == (bob, bob)
    assert deal.clocks.get(state="running").responsible == bob
    assert (
        "Handed over from alice to bob: 1 open deal and 1 running or overdue clock."
    ) in answer.content.decode()


def test_demoting_a_manager_to_rep_in_the_admin_ends_their_managership(
    admin, team, max_manager
):
    answer = admin.post(change_url(max_manager), form_of(max_manager, role="rep"))

    assert answer.status_code == 302
    max_manager.refresh_from_db()
    team.refresh_from_db()
    assert (max_manager.role, max_manager.is_staff) == ("rep", False)
    assert team.manager is None


def test_a_manager_moved_to_another_team_in_the_admin_stops_leading_the_first(
    admin, team, max_manager
):
    north = Team.objects.create(name="North")

    admin.post(change_url(max_manager), form_of(max_manager, team=north.pk))

    team.refresh_from_db()
    max_manager.refresh_from_db()
    assert max_manager.team == north
    assert team.manager is None


def test_making_a_person_admin_in_the_admin_lets_them_use_the_admin(admin, alice):
    answer = admin.post(change_url(alice), form_of(alice, role="admin"))

    assert answer.status_code == 302
    alice.refresh_from_db()
    assert (alice.role, alice.is_staff, alice.is_superuser) == ("admin", True, True)


def test_staff_superuser_and_username_posted_to_the_admin_are_not_stored(admin, alice):
    answer = admin.post(
        change_url(alice),
        form_of(alice, username="mallory", is_staff="on", is_superuser="on"),
    )

    assert answer.status_code == 302
    alice.refresh_from_db()
    assert (alice.username, alice.is_staff, alice.is_superuser) == (
        "alice",
        False,
        False,
    )


def test_names_and_email_changed_in_the_admin_are_checked_by_the_service(admin, alice):
    answer = admin.post(change_url(alice), form_of(alice, first_name="Al\x07ice"))

    assert answer.status_code == 200
    assert errors_of(answer)["first_name"] == [
        "first name must not hold control characters"
    ]
    answer = admin.post(
        change_url(alice),
        form_of(alice, first_name="  Alicia ", email=" alicia@example.com "),
    )
    assert answer.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.email) == ("Alicia", "alicia@example.com")


def test_a_personal_calendar_the_service_refuses_is_shown_beside_its_field(
    admin, alice
):
    answer = admin.post(
        change_url(alice), form_of(alice, calendar='{"hours": {"mon": []}}')
    )

    assert answer.status_code == 200
    assert "calendar.timezone" in errors_of(answer)["calendar"][0]
    alice.refresh_from_db()
    assert alice.calendar == {}


def test_an_unchanged_form_saves_without_touching_managership(admin, team, max_manager):
    answer = admin.post(change_url(max_manager), form_of(max_manager))

    assert answer.status_code == 302
    team.refresh_from_db()
    assert team.manager == max_manager


def test_the_password_is_still_set_on_djangos_own_password_form(admin, alice):
    answer = admin.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"password1": "a new long secret", "password2": "a new long secret"},
    )

    assert answer.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a new long secret")


def add_form(**changes) -> dict:
    data = {
        "username": "carol",
        "role": "rep",
        "team": "",
        "name": "Carol Rep",
        "email": "carol@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "_save": "Save",
    }
    return data | changes


def test_a_person_added_in_the_admin_is_added_as_dealgate_user_add_adds_one(
    admin, team
):
    page = admin.get("/admin/accounts/user/add/").content.decode()
    assert 'name="password2"' in page and 'name="role"' in page

    answer = admin.post("/admin/accounts/user/add/", add_form(team=team.pk))

    carol = User.objects.get(username="carol")
    assert answer.status_code == 302
    assert answer["Location"] == change_url(carol)
    assert (carol.role, carol.team, carol.first_name, carol.last_name) == (
        "rep",
        team,
        "Carol",
        "Rep",
    )
    assert carol.check_password(PASSWORD)
    assert not carol.is_staff


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "ALICE"}, "username", "there is already a user 'alice'"),
        (
            {"password1": "short", "password2": "short"},
            "password1",
            "password must be at least 8 characters",
        ),
        ({"password2": "something else"}, "password2", "The two passwords differ."),
        ({"email": "carol at home"}, "email", "Enter a valid email address."),
        ({"name": "Carol\x07 Rep"}, "name", "name must not hold control characters"),
    ],
)
def test_a_person_the_service_refuses_is_not_added_and_the_field_says_why(
    admin, alice, changes, field, message
):
    answer = admin.post("/admin/accounts/user/add/", add_form(**changes))

    assert answer.status_code == 200
    assert message in errors_of(answer)[field][0]
    assert not User.objects.filter(username="carol").exists()


def team_url(team: Team, action: str = "change") -> str:
    return f"/admin/accounts/team/{team.pk}/{action}/"


def test_a_rep_is_not_made_a_teams_manager_in_the_admin(admin, team, alice):
    answer = admin.post(team_url(team), {"manager": alice.pk, "_save": "Save"})

    assert answer.status_code == 200
    assert (
        "alice is a rep; make them a manager first" in (errors_of(answer)["manager"][0])
    )
    team.refresh_from_db()
    assert team.manager is None


def test_a_manager_given_a_team_in_the_admin_joins_it_and_leaves_their_old_one(
    admin, team, max_manager
):
    north = Team.objects.create(name="North")

    answer = admin.post(team_url(north), {"manager": max_manager.pk, "_save": "Save"})

    assert answer.status_code == 302
    north.refresh_from_db()
    team.refresh_from_db()
    max_manager.refresh_from_db()
    assert (north.manager, team.manager, max_manager.team) == (
        max_manager,
        None,
        north,
    )


def test_a_team_is_added_through_the_service_and_never_renamed_in_the_admin(
    admin, max_manager
):
    assert admin.get("/admin/accounts/team/add/").status_code == 200

    answer = admin.post(
        "/admin/accounts/team/add/",
        {"name": " North ", "manager": max_manager.pk, "_save": "Save"},
    )

    assert answer.status_code == 302
    north = Team.objects.get(name="North")
    assert north.manager == max_manager
    admin.post(team_url(north), {"name": "South", "manager": max_manager.pk})
    north.refresh_from_db()
    assert north.name == "North"


def hold_team(pipeline, team: Team) -> None:
    """A stage owned by `team`, a handoff it answers for and a routing rule
    sending leads to it, as a pipeline file names them."""
    stage = pipeline.stages.get(key="contract")
    stage.owner_kind, stage.owner_team = "team", team
    stage.save()
    Handoff.objects.create(
        pipeline=pipeline,
        to_stage=pipeline.stages.get(key="inquiry"),
        response_window_minutes=60,
        responsible=f"team:{team.name}",
    )
    pipeline.settings = {"routing": [{"name": "all", "to": f"team:{team.name}"}]}
    pipeline.save()


def test_the_delete_page_of_a_team_names_what_holds_it(
    admin, pipeline, team, max_manager, alice
):
    hold_team(pipeline, team)

    page = admin.get(team_url(team, "delete")).content.decode()

    assert "Cannot delete" in page
    assert "team Central is kept: move its people to another team" in page
    assert "team Central has 2 members: alice, max" in page
    assert "team Central is led by max" in page
    assert "team Central owns stage &#x27;Contract out&#x27; of pipeline New" in page
    assert "team Central is responsible for the handoff into &#x27;Inquiry" in page
    assert "routing rules of pipeline New business send leads to team Central" in (page)


def test_a_team_with_members_is_not_deleted_and_its_members_keep_it(admin, team, alice):
    answer = admin.post(team_url(team, "delete"), {"post": "yes"})

    assert answer.status_code == 200
    alice.refresh_from_db()
    assert alice.team == team


def test_a_team_only_a_handoff_or_routing_rule_names_is_kept(admin, pipeline):
    north = Team.objects.create(name="North")
    Handoff.objects.create(
        pipeline=pipeline,
        to_stage=pipeline.stages.get(key="inquiry"),
        response_window_minutes=60,
        responsible="team:North",
    )

    admin.post(team_url(north, "delete"), {"post": "yes"})

    assert Team.objects.filter(pk=north.pk).exists()


def test_delete_selected_keeps_teams_that_are_held_and_says_why(
    admin, pipeline, team, alice
):
    south = Team.objects.create(name="South")
    pipeline.settings = {"routing": [{"name": "south", "to": "team:South"}]}
    pipeline.save()

    answer = admin.post(
        "/admin/accounts/team/",
        {
            "action": "delete_selected",
            "_selected_action": [team.pk, south.pk],
            "post": "yes",
        },
    )

    page = answer.content.decode()
    assert "team Central has 1 member: alice" in page
    assert "routing rules of pipeline New business send leads to team South" in page
    assert Team.objects.filter(pk__in=[team.pk, south.pk]).count() == 2


def test_a_team_nothing_names_is_deleted(admin, pipeline, team):
    answer = admin.post(team_url(team, "delete"), {"post": "yes"})

    assert answer.status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()


def test_groups_are_not_in_the_admin_as_roles_decide_what_a_person_may_do(admin):
    assert admin.get("/admin/auth/group/").status_code == 404


def test_hand_over_to_lists_people_by_full_name_sorted_by_it(admin, alice, bob):
    User.objects.create_user(username="aaron", first_name="Zoe", last_name="Zed")

    page = admin.get(change_url(alice))

    choices = [
        label for _, label in page.context["adminform"].form["hand_to"].field.choices
    ]
    assert choices == ["---------", "Bob Rep", "Olivia Owner", "Zoe Zed"]


def test_hand_over_to_adds_the_username_only_where_two_share_a_name(admin, alice, bob):
    User.objects.create_user(username="alice2", first_name="Alice", last_name="Rep")

    page = admin.get(change_url(bob))

    choices = [
        label for _, label in page.context["adminform"].form["hand_to"].field.choices
    ]
    assert choices[1:3] == ["Alice Rep (alice)", "Alice Rep (alice2)"]
    assert "Bob Rep" not in choices
    assert "Olivia Owner" in choices


def test_hand_over_to_still_posts_the_username(admin, alice, bob):
    page = admin.get(change_url(alice)).content.decode()

    assert '<option value="bob">Bob Rep</option>' in page
