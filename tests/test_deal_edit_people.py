"""A deal's owner and organization change through `update_deal`, with the
rules of every other edit; currency and dates keep to one rule at every door."""

import datetime as dt
import logging

import pytest

from dealgate import timesource
from dealgate.core.currencies import ISO_4217, iso_currency
from dealgate.deals.models import Deal, Organization
from dealgate.deals.services import update_deal
from dealgate.errors import Conflict, PermissionDenied, ValidationError

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    with timesource.frozen_at(T0):
        return Deal.objects.create(
            pipeline=pipeline,
            stage=pipeline.stages.get(key="inquiry"),
            title="Cloud migration",
            owner=alice,
            created_at=T0,
            stage_entered_at=T0,
        )


def test_a_rep_may_not_give_their_deal_away_nor_leave_it_unowned(deal, alice, bob):
    for owner in ("bob", None):
        with pytest.raises(PermissionDenied, match="a rep may not give a deal to"):
            update_deal(deal.pk, {"owner": owner}, by=alice, expected_version=1)
    deal.refresh_from_db()
    assert (deal.owner, deal.version) == (alice, 1)


def test_an_owner_given_by_id_passes_the_same_checks_and_hand_over(
    deal, alice, bob, max_manager
):
    from dealgate.clocks.models import Clock

    with pytest.raises(PermissionDenied, match="a rep may not give a deal to bob"):
        update_deal(deal.pk, {"owner_id": bob.pk}, by=alice, expected_version=1)
    with pytest.raises(ValidationError, match="owner_id: there is no active user"):
        update_deal(deal.pk, {"owner_id": 10**9}, by=max_manager, expected_version=1)
    updated = update_deal(
        deal.pk, {"owner_id": bob.pk}, by=max_manager, expected_version=1
    )
    age = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE, state="running")
    assert (updated.owner, updated.responsible, updated.version) == (bob, bob, 2)
    assert age.get().responsible == bob


def test_a_new_owner_becomes_responsible_and_takes_the_running_clocks(
    deal, alice, bob, max_manager
):
    from dealgate.clocks.models import Clock

    age = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE, state="running")
    assert age.get().responsible == alice
    updated = update_deal(deal.pk, {"owner": "bob"}, by=max_manager, expected_version=1)
    assert (updated.owner, updated.responsible, updated.version) == (bob, bob, 2)
    assert age.get().responsible == bob


def test_a_new_owner_takes_an_age_limit_already_passed_and_not_put_right(
    deal, alice, bob, max_manager
):
    from dealgate.clocks.models import Clock

    age = Clock.objects.filter(deal=deal, kind=Clock.Kind.AGE)
    age.update(state="breached", at_risk=True)  # as the sweep leaves it
    done = age.get()  # a stay before, its limit met: a copy, closed
    done.pk, done.key, done.state, done.is_open = None, "done-before", "met", False
    done.at_risk, done.ended_at = False, T0
    done.save()
    update_deal(deal.pk, {"owner": "bob"}, by=max_manager, expected_version=1)
    assert age.exclude(pk=done.pk).get().responsible == bob
    done.refresh_from_db()
    assert done.responsible == alice  # what was done stays who did it


def test_the_organization_is_found_or_created_by_name_and_cleared_by_null(deal, alice):
    acme = Organization.objects.create(name="Acme")
    assert (
        update_deal(
            deal.pk, {"organization": "Acme"}, by=alice, expected_version=1
        ).organization
        == acme
    )
    created = update_deal(
        deal.pk, {"organization": "Initech"}, by=alice, expected_version=2
    )
    assert created.organization.name == "Initech"
    cleared = update_deal(deal.pk, {"organization": None}, by=alice, expected_version=3)
    assert cleared.organization is None


def test_a_rep_cannot_change_the_owner_of_someone_elses_deal(deal, bob):
    with pytest.raises(PermissionDenied):
        update_deal(deal.pk, {"owner": "bob"}, by=bob, expected_version=1)
    deal.refresh_from_db()
    assert deal.owner.username == "alice"


def test_a_manager_changes_the_owner_of_a_team_members_deal(deal, max_manager, bob):
    updated = update_deal(deal.pk, {"owner": "bob"}, by=max_manager, expected_version=1)
    assert updated.owner == bob


def test_a_stale_owner_change_is_a_conflict_and_creates_no_organization(
    deal, alice, max_manager
):
    update_deal(deal.pk, {"title": "Renamed"}, by=alice, expected_version=1)
    with pytest.raises(Conflict):
        update_deal(
            deal.pk,
            {"owner": None, "organization": "Initech"},
            by=max_manager,
            expected_version=1,
        )
    deal.refresh_from_db()
    assert deal.owner.username == "alice" and deal.organization is None
    assert not Organization.objects.exists()


def test_an_owner_who_is_no_active_user_is_refused_naming_the_owner(deal, alice):
    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"owner": "nobody"}, by=alice, expected_version=1)
    assert refused.value.field == "owner"


def test_the_log_says_who_changed_the_owner_from_whom_to_whom(
    deal, alice, bob, max_manager, caplog, django_capture_on_commit_callbacks
):
    # Logged once the edit commits: a refused edit changed nobody.
    with (
        caplog.at_level(logging.INFO, logger="dealgate.deals"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        update_deal(
            deal.pk,
            {"owner": "bob", "organization": "Acme"},
            by=max_manager,
            expected_version=1,
        )
    assert f"deal {deal.pk}: owner changed from alice to bob by max" in caplog.text
    assert (
        f"deal {deal.pk}: organization changed from none to Acme by max" in caplog.text
    )


@pytest.mark.parametrize(("typed", "stored"), [("usd", "USD"), ("Eur", "EUR")])
def test_a_currency_code_in_any_case_is_stored_upper_case(deal, alice, typed, stored):
    updated = update_deal(deal.pk, {"currency": typed}, by=alice, expected_version=1)
    assert updated.currency == stored


@pytest.mark.parametrize("typed", ["XYZ", "XXX", "HRK", "US", "", "U$D"])
def test_a_code_that_is_no_iso_4217_currency_is_refused(deal, alice, typed):
    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"currency": typed}, by=alice, expected_version=1)
    assert refused.value.field == "currency"


def test_the_currency_list_holds_the_common_codes_and_only_codes():
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "BRL", "INR"} <= ISO_4217
    assert all(len(code) == 3 and code.isupper() for code in ISO_4217)
    assert iso_currency(" gbp ") == "GBP" and iso_currency("XTS") is None


@pytest.mark.parametrize(
    ("day", "kept"),
    [
        (dt.date(1850, 1, 1), False),
        (dt.date(1900, 12, 31), False),
        (dt.date(1901, 1, 1), True),
        (dt.date(2198, 12, 31), True),
        (dt.date(2199, 1, 1), False),
    ],
)
def test_an_expected_close_date_keeps_to_the_years_an_import_reads(
    deal, alice, day, kept
):
    if kept:
        updated = update_deal(
            deal.pk, {"expected_close_date": day}, by=alice, expected_version=1
        )
        assert updated.expected_close_date == day
        return
    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"expected_close_date": day}, by=alice, expected_version=1)
    assert refused.value.field == "expected_close_date"
    assert "1901" in refused.value.message and "2198" in refused.value.message
