"""An organization typed by name is found by one rule at every door: the
service, the New deal page, the deal's edit form and the API (lead
conversion: tests/leads/test_convert.py)."""

import datetime as dt
import threading
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection, connections
from django.urls import reverse

from dealgate import timesource
from dealgate.deals.models import Deal, Organization
from dealgate.deals.services import create_deal, organization_named, update_deal
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
ZWSP = "\u200b"
SPELLINGS = ["Acme", "acme", " Acme  ", f"Ac{ZWSP}me", "ＡＣＭＥ"]


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def test_every_spelling_of_a_name_finds_the_organization_first_made(pipeline, alice):
    deals = [
        create_deal(pipeline, {"title": f"Deal {n}", "organization": name}, by=alice)
        for n, name in enumerate(SPELLINGS)
    ]

    assert Organization.objects.count() == 1
    assert {deal.organization.name for deal in deals} == {"Acme"}


def test_a_new_organization_keeps_its_first_spelling_tidied(db):
    made = organization_named(f"  Ac{ZWSP}me   Tools ")

    assert made.name == "Acme Tools"
    assert organization_named("ACME TOOLS") == made


def test_of_organizations_sharing_a_key_from_before_the_first_is_found(db):
    first = Organization.objects.create(name="Globex")
    Organization.objects.create(name="GLOBEX")  # made when names were exact

    assert organization_named("globex") == first


@pytest.mark.parametrize("typed", ["   ", ZWSP, f" {ZWSP}\ufeff "])
def test_a_name_with_nothing_visible_is_refused_naming_the_field(
    pipeline, alice, typed
):
    with pytest.raises(ValidationError) as refused:
        create_deal(pipeline, {"title": "X", "organization": typed}, by=alice)

    assert refused.value.field == "organization"
    assert "no visible characters" in refused.value.message
    assert not Deal.objects.exists() and not Organization.objects.exists()


def test_no_name_means_no_organization(pipeline, alice):
    for empty in (None, ""):
        deal = create_deal(pipeline, {"title": "X", "organization": empty}, by=alice)
        assert deal.organization is None


def test_an_edit_finds_the_organization_by_any_spelling(pipeline, alice):
    acme = Organization.objects.create(name="Acme")
    deal = create_deal(pipeline, {"title": "X"}, by=alice)

    edited = update_deal(
        deal.pk, {"organization": f" ac{ZWSP}ME "}, by=alice, expected_version=1
    )

    assert edited.organization == acme
    assert Organization.objects.count() == 1
    # The same organization again changes nothing, not even the version.
    again = update_deal(deal.pk, {"organization": "ACME"}, by=alice, expected_version=2)
    assert again.version == 2


def test_an_edit_to_a_name_with_nothing_visible_is_refused(pipeline, alice):
    deal = create_deal(pipeline, {"title": "X"}, by=alice)

    with pytest.raises(ValidationError) as refused:
        update_deal(deal.pk, {"organization": ZWSP}, by=alice, expected_version=1)

    assert refused.value.field == "organization"


def test_the_new_deal_page_finds_the_organization_by_any_spelling(
    client, pipeline, alice
):
    acme = Organization.objects.create(name="Acme")
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline=new-business",
        {"title": "Backup", "organization": f"ac{ZWSP}me", "owner": "alice"},
    )

    assert response.status_code == 302
    assert Deal.objects.get().organization == acme
    assert Organization.objects.count() == 1


def test_the_new_deal_page_shows_an_invisible_name_refused_at_its_input(
    client, pipeline, alice
):
    client.force_login(alice)

    response = client.post(
        f"{reverse('deal-new')}?pipeline=new-business",
        {"title": "Backup", "organization": ZWSP, "owner": "alice"},
    )

    assert response.status_code == 422
    # Said once, after the input's label, with what was typed made visible.
    assert (
        "Organization: holds no visible characters (U+200B)"
        in response.content.decode()
    )
    assert "organization:" not in response.content.decode()
    assert not Deal.objects.exists() and not Organization.objects.exists()


def test_the_deal_edit_form_finds_the_organization_by_any_spelling(
    client, pipeline, alice
):
    acme = Organization.objects.create(name="Acme")
    deal = create_deal(pipeline, {"title": "Backup"}, by=alice)
    client.force_login(alice)

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": "1", "title": "Backup", "organization": "  ACME "},
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.organization == acme


def test_the_api_finds_the_organization_by_any_spelling_on_create_and_edit(
    api, pipeline
):
    acme = Organization.objects.create(name="Acme")

    created = api.post(
        "/api/v1/deals",
        {"pipeline": "new-business", "title": "A", "organization": "ACME "},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["organization"] == "Acme"

    other = api.post(
        "/api/v1/deals",
        {"pipeline": "new-business", "title": "B"},
        content_type="application/json",
    ).json()
    edited = api.patch(
        f"/api/v1/deals/{other['id']}",
        {"version": other["version"], "organization": f"a{ZWSP}cme"},
        content_type="application/json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["organization"] == "Acme"
    assert list(Organization.objects.all()) == [acme]


def test_the_api_refuses_an_invisible_name_with_a_422_naming_it(api, pipeline):
    response = api.post(
        "/api/v1/deals",
        {"pipeline": "new-business", "title": "A", "organization": ZWSP},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["field"] == "organization"
    assert not Deal.objects.exists()


def test_organizations_get_their_keys_when_the_migration_runs(db):
    Organization.objects.create(name=f"Ac{ZWSP}me Tools")
    Organization.objects.update(name_key="", name_block="ac")
    migration = import_module("dealgate.deals.migrations.0009_organization_name_key")

    migration.fill(apps, connection.schema_editor())

    org = Organization.objects.get()
    assert (org.name_key, org.name_block) == ("acme tools", "acme")


def test_keys_lose_invisible_characters_when_the_migration_runs(db, pipeline):
    from dealgate.leads.models import Lead
    from dealgate.leads.normalize import company_key

    zeta = Organization.objects.create(name="Zeta Widgets\ufe0f")
    plain = Organization.objects.create(name="Plain Tools")
    Organization.objects.update(name_key="stale", name_block="stale")
    lead = Lead.objects.create(
        pipeline=pipeline, company="Zeta\u3164 Widgets", created_at=T0
    )
    Lead.objects.update(company_key="stale", company_block="stale")
    editor = connection.schema_editor()

    for module in (
        "dealgate.deals.migrations.0011_organization_keys_without_invisibles",
        "dealgate.leads.migrations.0011_company_keys_without_invisibles",
    ):
        import_module(module).refill(apps, editor)

    zeta.refresh_from_db()
    # The block as computed today (deals migration 0016): the first, in
    # alphabetical order, of its words' first letters.
    assert (zeta.name_key, zeta.name_block) == ("zeta widgets", "widg")
    # A plain ASCII name holds nothing the new rule drops: it is not read.
    assert Organization.objects.get(pk=plain.pk).name_key == "stale"
    lead.refresh_from_db()
    assert (lead.company_key, lead.company_block) == (
        company_key("Zeta Widgets"),
        "widg",
    )


def _skip_on_memory_sqlite():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("an in-memory SQLite database is private to one thread")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_spellings_created_at_the_same_moment_make_one_organization(
    pipeline, alice, bob, round_
):
    _skip_on_memory_sqlite()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(user, name):
        try:
            barrier.wait()
            create_deal(pipeline, {"title": name, "organization": name}, by=user)
            outcomes.append("created")
        except Exception as exc:  # any failure shows in the assert
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=create, args=(alice, "Acme")),
        threading.Thread(target=create, args=(bob, " acme ")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == ["created", "created"]
    assert Organization.objects.count() == 1
    assert Deal.objects.filter(organization__isnull=False).count() == 2
