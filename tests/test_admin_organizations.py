"""Organizations, products and people in the admin at /admin/, as a superuser:
none that deals point at is deleted behind the deal service, and an
organization's name follows the deal page's rule (core.names)."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.deals.models import Deal, Organization, Person, Product
from dealgate.deals.services import organization_named

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


@pytest.fixture
def kappa(db) -> Organization:
    return organization_named("Kappa Co")


def open_deal(pipeline, alice, **fields) -> Deal:
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title=fields.pop("title", "Backup for Kappa"),
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
        **fields,
    )


def delete_url(obj) -> str:
    meta = obj._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/delete/"


def test_the_delete_page_of_an_organization_names_the_deals_that_keep_it(
    admin, pipeline, alice, kappa
):
    deal = open_deal(pipeline, alice, organization=kappa)
    open_deal(pipeline, alice, organization=kappa, title="Second deal")

    page = admin.get(delete_url(kappa)).content.decode()

    assert "Cannot delete" in page
    assert "2 deals point at Kappa Co" in page
    assert f"deal #{deal.pk} &#x27;Backup for Kappa&#x27; (open)" in page


def test_an_organization_deals_point_at_is_not_deleted_nor_blanked_on_them(
    admin, pipeline, alice, kappa
):
    deal = open_deal(pipeline, alice, organization=kappa)

    answer = admin.post(delete_url(kappa), {"post": "yes"})

    assert answer.status_code == 200
    assert Organization.objects.filter(pk=kappa.pk).exists()
    deal.refresh_from_db()
    assert (deal.organization_id, deal.version) == (kappa.pk, 1)


def test_the_delete_selected_action_keeps_organizations_deals_point_at(
    admin, pipeline, alice, kappa
):
    unused = organization_named("Lambda Ltd")
    open_deal(pipeline, alice, organization=kappa)

    answer = admin.post(
        "/admin/deals/organization/",
        {
            "action": "delete_selected",
            "_selected_action": [kappa.pk, unused.pk],
            "post": "yes",
        },
    )

    assert "1 deal points at Kappa Co, so it is kept" in answer.content.decode()
    assert Organization.objects.filter(pk__in=[kappa.pk, unused.pk]).count() == 2


def test_an_organization_no_deal_points_at_is_deleted(admin, db):
    unused = organization_named("Lambda Ltd")

    answer = admin.post(delete_url(unused), {"post": "yes"})

    assert answer.status_code == 302
    assert not Organization.objects.filter(pk=unused.pk).exists()


def test_products_and_people_deals_point_at_are_not_deleted(admin, pipeline, alice):
    product = Product.objects.create(name="GTX Pro")
    person = Person.objects.create(name="Kim Kappa")
    open_deal(pipeline, alice, product=product, contact=person)

    for obj in (product, person):
        answer = admin.post(delete_url(obj), {"post": "yes"})
        assert f"1 deal points at {obj}" in answer.content.decode()
        assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_delete_page_names_ten_deals_and_counts_the_rest(
    admin, pipeline, alice, kappa
):
    for n in range(12):
        open_deal(pipeline, alice, organization=kappa, title=f"Deal {n}")

    page = admin.get(delete_url(kappa)).content.decode()

    assert "12 deals point at Kappa Co" in page
    assert "Deal 9" in page and "Deal 10" not in page
    assert "and 2 more deals with Kappa Co" in page


def test_the_one_deal_past_the_named_ten_is_counted_in_the_singular(
    admin, pipeline, alice, kappa
):
    for n in range(11):
        open_deal(pipeline, alice, organization=kappa, title=f"Deal {n}")

    page = admin.get(delete_url(kappa)).content.decode()

    assert "11 deals point at Kappa Co" in page
    assert "and 1 more deal with Kappa Co" in page


def organization_form(name: str, **fields) -> dict:
    return {"name": name, "sector": "", "location": "", "parent": "", **fields}


def test_a_new_organization_from_the_admin_keeps_its_name_tidied(admin, db):
    answer = admin.post(
        "/admin/deals/organization/add/", organization_form("  Mu\u200b  Systems ")
    )

    assert answer.status_code == 302
    assert Organization.objects.get(name_key="mu systems").name == "Mu Systems"


@pytest.mark.parametrize("typed", ["  kappa   CO ", "KAPPA\u200b CO", "Kappa Co\ufe0f"])
def test_the_admin_refuses_a_second_organization_under_one_name_key(
    admin, kappa, typed
):
    answer = admin.post("/admin/deals/organization/add/", organization_form(typed))

    assert answer.status_code == 200
    page = answer.content.decode()
    assert f"Organization #{kappa.pk} &#x27;Kappa Co&#x27; already has this name" in (
        page
    )
    assert Organization.objects.count() == 1


@pytest.mark.parametrize("typed", ["\u200b", "\u3164", "\u2800 \u2060", "\ufe0f"])
def test_the_admin_refuses_an_organization_name_with_nothing_visible(admin, typed):
    answer = admin.post("/admin/deals/organization/add/", organization_form(typed))

    assert answer.status_code == 200
    assert "holds no visible characters" in answer.content.decode()
    assert not Organization.objects.exists()


def test_an_organization_renamed_in_the_admin_may_keep_its_own_key(admin, kappa):
    answer = admin.post(
        f"/admin/deals/organization/{kappa.pk}/change/",
        organization_form("KAPPA co", sector="Software"),
    )

    assert answer.status_code == 302
    kappa.refresh_from_db()
    assert (kappa.name, kappa.sector, kappa.name_key) == (
        "KAPPA co",
        "Software",
        "kappa co",
    )


def test_an_organization_renamed_in_the_admin_to_another_ones_name_is_refused(
    admin, kappa
):
    lambda_ = organization_named("Lambda Ltd")

    answer = admin.post(
        f"/admin/deals/organization/{lambda_.pk}/change/",
        organization_form("kappa co"),
    )

    assert answer.status_code == 200
    lambda_.refresh_from_db()
    assert lambda_.name == "Lambda Ltd"
