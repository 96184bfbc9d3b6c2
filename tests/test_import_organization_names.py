"""An import finds organizations never more strictly than the deal page does
(core.names): an exact name, then the page's name key, and only then the
looser spelling key; a name with nothing visible is refused, not matched."""

import pytest

from dealgate.deals.models import Deal, Organization
from dealgate.deals.services import organization_named
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = '[columns]\ntitle = "Deal"\norganization = "Account"\n'


@pytest.fixture
def sales(db):
    return make_import_pipeline()


def imported(tmp_path, sales, *rows: str):
    mapping = write_mapping(tmp_path, MAPPING)
    path = write_csv(tmp_path, "Deal,Account\n" + "".join(rows))
    return import_deals(path, mapping, pipeline=sales)


def test_a_name_the_page_finds_once_is_found_though_its_spelling_matches_two(
    sales, tmp_path
):
    kappa = organization_named("Kappa Co")
    organization_named("Kappa-Co")

    report = imported(tmp_path, sales, "A,kappa co\n", "B,KAPPA  CO\n")

    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert set(Deal.objects.values_list("organization", flat=True)) == {kappa.pk}


def test_a_spelling_only_punctuation_joins_to_two_names_is_still_refused(
    sales, tmp_path
):
    organization_named("Kappa Co")
    organization_named("Kappa-Co")

    report = imported(tmp_path, sales, "A,Kappa.Co\n")

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Account: 'Kappa.Co' matches 2 organizations: 'Kappa Co', 'Kappa-Co'"
    ]


def test_of_organizations_sharing_a_key_from_before_the_first_made_is_found(
    sales, tmp_path
):
    first = Organization.objects.create(name="Acme")
    Organization.objects.create(name="ACME")

    report = imported(tmp_path, sales, "A,acme\n")

    assert report.committed
    assert Deal.objects.get().organization == first == organization_named("acme")


def test_a_variation_selector_after_a_known_name_finds_it(sales, tmp_path):
    zeta = organization_named("Zeta Widgets")

    report = imported(tmp_path, sales, "A,Zeta Widgets\ufe0f\n")

    assert report.committed
    assert Deal.objects.get().organization == zeta
    assert Organization.objects.count() == 1


@pytest.mark.parametrize("typed", ["\u200b", "\u2060\u2060", "\u3164", "\u2800"])
def test_an_organization_with_nothing_visible_is_refused_naming_line_and_column(
    sales, tmp_path, typed
):
    report = imported(tmp_path, sales, "A,Orbit\n", f"B,{typed}\n")

    assert [str(bad) for bad in report.bad_rows] == [
        "line 3: Account: holds no visible characters "
        f"({', '.join(f'U+{ord(ch):04X}' for ch in typed)})"
    ]
    assert not Organization.objects.exists()


def test_an_invisible_name_from_before_matches_no_invisible_text(sales, tmp_path):
    # Made before names with nothing visible were refused.
    Organization.objects.create(name="\u200b")

    report = imported(tmp_path, sales, "A,\u2060\u2060\n")

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Account: holds no visible characters (U+2060, U+2060)"
    ]


def test_a_new_organization_is_stored_tidied_as_the_page_stores_one(sales, tmp_path):
    report = imported(tmp_path, sales, "A,Mu\u200bSystems\n", "B,mu systems\n")

    assert report.committed
    assert list(Organization.objects.values_list("name", flat=True)) == ["MuSystems"]
