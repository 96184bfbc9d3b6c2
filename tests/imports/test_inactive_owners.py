"""A deals import gives no open deal to someone who may no longer sign in,
as the pages and the API do not; closed history owned by a leaver is kept,
and the responsible person skips a stage owner who left, as a move does."""

import pytest

from dealgate.accounts.services import change_user
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from dealgate.imports.services import import_deals
from dealgate.pipelines.models import Stage
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "crm"
loss_reason = "not-recorded"
[columns]
external_id = "Id"
title = "Deal"
stage = "Stage"
owner = "Owner"
close_date = "Closed"
[stages]
Open = "prospecting"
Won = { stage = "engaging", status = "won" }
Lost = { stage = "engaging", status = "lost" }
"""
HEADER = "Id,Deal,Stage,Owner,Closed\n"


@pytest.fixture
def olga(db, django_user_model):
    user = django_user_model.objects.create_user(
        username="olga", first_name="Olga", last_name="Ivanova", role="rep"
    )
    user.is_active = False
    user.save()
    return user


def imported(tmp_path, sales, *rows: str):
    path = write_csv(tmp_path, HEADER + "".join(rows))
    mapping = write_mapping(tmp_path, MAPPING)
    return import_deals(path, mapping, pipeline=sales, all_or_nothing=False)


def test_an_open_deal_owned_by_someone_inactive_is_a_bad_row(tmp_path, olga, alice):
    sales = make_import_pipeline()
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Open,olga,\n",
        "D2,Helix,Open,Olga Ivanova,\n",
        "D3,Vega,Open,alice,\n",
    )
    gone = "may not sign in any more: an open deal needs an active owner"
    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: Owner: 'olga' {gone} (a won or lost deal may keep them)",
        f"line 3: Owner: 'Olga Ivanova' (olga) {gone} (a won or lost deal may "
        "keep them)",
    ]
    assert list(Deal.objects.values_list("external_id", "owner")) == [("D3", alice.pk)]


def test_a_row_with_an_inactive_owner_names_its_other_bad_values_too(tmp_path, olga):
    sales = make_import_pipeline()
    report = imported(tmp_path, sales, "D1,,Open,olga,\n")
    assert [(bad.line, bad.column) for bad in report.bad_rows] == [
        (2, "Owner"),
        (2, "Deal"),
    ]


def test_closed_deals_owned_by_someone_who_left_are_kept(tmp_path, olga):
    sales = make_import_pipeline()
    report = imported(
        tmp_path,
        sales,
        "D1,Orbit,Won,olga,2026-03-02\n",
        "D2,Helix,Lost,olga,2026-03-05\n",
    )
    assert report.bad_rows == []
    assert report.committed
    assert Deal.objects.filter(owner=olga).count() == 2


def test_the_person_who_left_may_be_deactivated_again_after_the_import(tmp_path, olga):
    sales = make_import_pipeline()
    report = imported(tmp_path, sales, "D1,Orbit,Open,olga,\n")
    assert report.bad_row_count == 1
    change_user("olga", active=False)  # refused while she holds an open deal
    assert not Deal.objects.filter(owner=olga).exists()


def test_an_open_deal_in_a_stage_owned_by_a_leaver_goes_to_its_owner(
    tmp_path, olga, alice
):
    sales = make_import_pipeline()
    Stage.objects.filter(pipeline=sales, key="prospecting").update(
        owner_kind=Stage.OwnerKind.PERSON, owner_user=olga
    )
    report = imported(tmp_path, sales, "D1,Orbit,Open,alice,\n")
    assert report.committed
    deal = Deal.objects.get()
    assert (deal.owner_id, deal.responsible_id) == (alice.pk, alice.pk)


def test_an_open_deal_in_a_team_stage_skips_the_teams_inactive_members(
    tmp_path, olga, alice, team
):
    olga.team = team
    olga.save()
    sales = make_import_pipeline()
    Stage.objects.filter(pipeline=sales, key="prospecting").update(
        owner_kind=Stage.OwnerKind.TEAM, owner_team=team
    )
    report = imported(tmp_path, sales, "D1,Orbit,Open,alice,\n")
    assert report.committed
    assert Deal.objects.get().responsible_id == alice.pk


@pytest.fixture
def alice_leaves_during_the_import(alice, monkeypatch):
    """alice is made inactive just after the import read who may sign in,
    as a hand-over committed meanwhile would leave her."""
    from dealgate.accounts.models import User
    from dealgate.imports import services

    built = services.build_lookups

    def then_alice_leaves(*args, **kwargs):
        lookups = built(*args, **kwargs)
        User.objects.filter(pk=alice.pk).update(is_active=False)
        return lookups

    monkeypatch.setattr(services, "build_lookups", then_alice_leaves)
    return alice


def test_an_owner_made_inactive_while_the_import_runs_stops_it_keeping_nothing(
    tmp_path, alice_leaves_during_the_import
):
    sales = make_import_pipeline()

    with pytest.raises(ValidationError) as refused:
        imported(
            tmp_path,
            sales,
            "D1,Orbit,Won,alice,2026-03-02\n",
            "D2,Helix,Open,alice,\n",
        )

    assert refused.value.message == (
        "owner: alice may no longer sign in, made inactive while this import ran, "
        "which gives them open deals; nothing was imported. Import again to have "
        "those rows named as bad"
    )
    assert not Deal.objects.exists()


def test_closed_deals_of_an_owner_made_inactive_meanwhile_are_kept(
    tmp_path, alice_leaves_during_the_import
):
    sales = make_import_pipeline()

    report = imported(tmp_path, sales, "D1,Orbit,Won,alice,2026-03-02\n")

    assert report.committed
    assert Deal.objects.get().owner_id == alice_leaves_during_the_import.pk
