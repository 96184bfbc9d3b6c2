"""No name is joined to another spelling silently: an import that takes a
name in a file for a record written otherwise says so in its report,
naming the line, the name as the file writes it and what it was taken for.

What joins two spellings (`csvsource.spelling_key`): the deal page's name
key (surrounding and repeated spaces, case, invisible characters,
full-width letters: `names.name_key`), then every character that is not a
letter or a digit (punctuation, spaces). Nothing else: a legal suffix
("Acme" and "Acme Ltd") or an accent ("Zoe" and "Zoë") keeps two names
apart. People are found as the owner column finds them (username, full
name or email, by the same keys), and two names of one people side file
that make one username are one person.
"""

import pytest

from dealgate.accounts.models import User
from dealgate.core.csvsource import spelling_key
from dealgate.deals.models import Deal, Organization, Product
from dealgate.imports.services import import_deals
from dealgate.pipelines.models import Pipeline
from tests.importing import make_import_pipeline, write_csv, write_mapping

pytestmark = pytest.mark.django_db

MAPPING = """
source = "side"
[columns]
external_id = "Ref"
title = "Deal"
organization = "Account"
owner = "Rep"
[organizations]
file = "accounts.csv"
columns = { name = "account", parent = "parent" }
[people]
file = "people.csv"
columns = { name = "agent", manager = "manager", team = "office" }
"""


def imported(
    tmp_path,
    *,
    accounts: str = "",
    people: str = "",
    deals: str = "",
    dry_run: bool = False,
):
    write_mapping(tmp_path, MAPPING)
    write_csv(tmp_path, "account,parent\n" + accounts, "accounts.csv")
    write_csv(tmp_path, "agent,manager,office\n" + people, "people.csv")
    path = write_csv(tmp_path, "Ref,Deal,Account,Rep\n" + deals)
    return import_deals(
        path, tmp_path / "mapping.toml", pipeline=pipeline(), dry_run=dry_run
    )


def pipeline():
    return Pipeline.objects.filter(key="sales").first() or make_import_pipeline()


def joined(report) -> dict[str, int]:
    """The report's warnings of names taken for other spellings."""
    return {text: n for text, n in report.warnings.items() if "matched" in text}


def warned(report) -> list[str]:
    return [
        line.strip()
        for line in report.lines()
        if line.startswith("  ") and ("matched" in line)
    ]


@pytest.mark.parametrize(
    ("one", "other"),
    [("Acme Corp", "ACME  corp"), ("Acme Corp", "Acme-Corp."), ("Ａｃｍｅ", "acme")],
)
def test_the_spelling_key_folds_case_spacing_punctuation_and_width(one, other):
    assert spelling_key(one) == spelling_key(other)


@pytest.mark.parametrize(
    ("one", "other"), [("Acme", "Acme Ltd"), ("Zoe", "Zoë"), ("Acme 1", "Acme 2")]
)
def test_the_spelling_key_keeps_legal_suffixes_accents_and_digits(one, other):
    assert spelling_key(one) != spelling_key(other)


# -- organizations ---------------------------------------------------------


def test_an_account_spelled_otherwise_than_one_present_is_reported_by_line(
    tmp_path,
):
    acme = Organization.objects.create(name="Acme Corp")
    report = imported(tmp_path, accounts="Orbit,\nACME corp.,\n")

    assert report.committed
    assert joined(report) == {
        "accounts.csv line 3: organization 'ACME corp.' matched 'Acme Corp' "
        "by spelling": 1,
    }
    assert list(Organization.objects.values_list("name", flat=True)) == [
        "Acme Corp",
        "Orbit",
    ]
    assert acme.pk == Organization.objects.get(name="Acme Corp").pk


def test_two_spellings_in_one_accounts_file_make_one_organization_and_say_so(
    tmp_path,
):
    # Before, "Kappa Co" and "KAPPA-CO" made two organizations, and a deal
    # naming "Kappa.Co" was refused as matching both.
    report = imported(
        tmp_path,
        accounts="Kappa Co,\nOrbit,\nKAPPA-CO,\nkappa co,\n",
        deals="K1,One,Kappa.Co,\n",
    )

    assert report.committed, [str(bad) for bad in report.bad_rows]
    assert list(Organization.objects.order_by("pk").values_list("name", flat=True)) == [
        "Kappa Co",
        "Orbit",
    ]
    assert Deal.objects.get().organization.name == "Kappa Co"
    assert warned(report) == [
        "accounts.csv line 4: organization 'KAPPA-CO' matched 'Kappa Co' of line "
        "2 by spelling: 1 row",
        "accounts.csv line 5: organization 'kappa co' matched 'Kappa Co' of line "
        "2 ignoring case and spacing: 1 row",
        "organization 'Kappa.Co' matched 'Kappa Co' by spelling: 1 row, on line 2",
    ]


def test_a_parent_found_by_another_spelling_is_reported_by_line(tmp_path):
    report = imported(tmp_path, accounts="Acme Corp,\nAcme Labs,acme-corp\n")

    assert report.committed
    assert Organization.objects.get(name="Acme Labs").parent.name == "Acme Corp"
    assert joined(report) == {
        "accounts.csv line 3: parent organization 'acme-corp' matched "
        "'Acme Corp' by spelling": 1,
    }


def test_new_accounts_of_the_deals_file_joined_by_spelling_name_the_first_line(
    tmp_path,
):
    report = imported(
        tmp_path,
        deals=(
            "D1,One,Nimbus Ltd,\n"
            "D2,Two,Orbit,\n"
            "D3,Three,NIMBUS LTD.,\n"
            "D4,Four,nimbus ltd,\n"
            "D5,Five,NIMBUS LTD.,\n"
        ),
    )

    assert report.committed
    assert Organization.objects.filter(name__iexact="nimbus ltd").count() == 1
    assert warned(report) == [
        "organization 'NIMBUS LTD.' matched 'Nimbus Ltd' by spelling: 2 rows, "
        "first on line 4",
        "organization 'nimbus ltd' matched 'Nimbus Ltd' ignoring case and "
        "spacing: 1 row, on line 5",
    ]


def test_a_legal_suffix_is_not_folded_so_no_organization_is_joined(tmp_path):
    report = imported(tmp_path, accounts="Acme,\nAcme Ltd,\n", deals="A1,One,Acme,\n")

    assert report.committed
    assert Organization.objects.count() == 2
    assert warned(report) == []


def test_products_of_a_side_file_are_joined_and_reported_alike(tmp_path):
    write_mapping(
        tmp_path,
        '[columns]\ntitle = "Deal"\nproduct = "Product"\n'
        '[products]\nfile = "products.csv"\ncolumns = { name = "product" }\n',
    )
    write_csv(tmp_path, "product\nGTX Pro\nGTXPro\n", "products.csv")
    path = write_csv(tmp_path, "Deal,Product\nOne,GTX Pro\n")

    report = import_deals(path, tmp_path / "mapping.toml", pipeline=pipeline())

    assert Product.objects.get().name == "GTX Pro"
    assert joined(report) == {
        "products.csv line 3: product 'GTXPro' matched 'GTX Pro' of line 2 "
        "by spelling": 1,
    }


# -- people ----------------------------------------------------------------


def test_a_person_present_found_by_spelling_is_named_with_line_and_person(
    tmp_path,
):
    raj = User.objects.create_user(
        "raj", first_name="Raj", last_name="Patel", email="raj@example.com"
    )
    report = imported(tmp_path, people="Raj-Patel,,\n", deals="R1,One,,Raj Patel\n")

    assert report.committed
    assert Deal.objects.get().owner == raj
    assert User.objects.count() == 1
    assert joined(report) == {
        "people.csv line 2: agent 'Raj-Patel' matched 'Raj Patel' by spelling: "
        "taken for raj (raj@example.com)": 1,
    }


def test_a_person_found_exactly_by_name_username_or_email_is_no_warning(
    tmp_path,
):
    User.objects.create_user("raj", first_name="Raj", last_name="Patel")
    User.objects.create_user("ann", email="ann@example.com")
    User.objects.create_user("boris")
    report = imported(tmp_path, people="Raj Patel,boris,Leeds\nann@example.com,,\n")

    assert report.committed
    assert warned(report) == []


def test_a_manager_found_ignoring_case_is_named_with_its_column(tmp_path):
    User.objects.create_user("boris", first_name="Boris", last_name="Boss")
    report = imported(tmp_path, people="Otto Side,,\nAnn Lee,BORIS BOSS,Leeds\n")

    assert report.committed
    assert joined(report) == {
        "people.csv line 3: manager 'BORIS BOSS' matched 'Boris Boss' ignoring "
        "case and spacing: taken for boris (no email)": 1,
    }


def test_two_spellings_of_a_new_person_in_one_file_are_one_person_and_said(
    tmp_path,
):
    report = imported(tmp_path, people="Ann Lee,,\nOtto Side,,\nann lee,,\n")

    assert report.committed
    assert User.objects.filter(username="ann.lee").count() == 1
    assert joined(report) == {
        "people.csv line 4: agent 'ann lee' matched 'Ann Lee' of line 2 "
        "ignoring case and spacing: taken for one person, ann.lee": 1,
    }


# -- a dry run, and a bad row ---------------------------------------------


JOINS = {
    "accounts": "Acme Corp,\nACME corp.,\n",
    "people": "Raj-Patel,,\n",
    "deals": "D1,One,acme corp,Raj Patel\nD2,Two,Nimbus,raj\nD3,Three,NIMBUS!,raj\n",
}


def test_a_dry_run_reports_every_join_as_a_real_run_does(tmp_path):
    User.objects.create_user("raj", first_name="Raj", last_name="Patel")
    dry = imported(tmp_path, **JOINS, dry_run=True)
    assert not dry.committed
    assert not Deal.objects.exists()
    assert not Organization.objects.exists()

    real = imported(tmp_path, **JOINS)

    assert real.committed

    def warnings_listed(report) -> list[str]:
        lines = report.lines()
        return lines[lines.index("warnings:") : -1]

    assert warnings_listed(real) == warnings_listed(dry)
    assert (real.created, real.reused) == (dry.created, dry.reused)
    assert real.deals_created == dry.deals_created == 3
    assert len(warned(real)) == 4


def test_a_bad_row_beside_the_joins_leaves_nothing_written(tmp_path):
    User.objects.create_user("raj", first_name="Raj", last_name="Patel")
    rows = {**JOINS, "deals": JOINS["deals"] + "D4,Four,Orbit,nobody\n"}

    report = imported(tmp_path, **rows)

    assert not report.committed
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Rep: 'nobody' matches no owner in people.csv",
    ]
    assert len(warned(report)) == 4
    assert not Deal.objects.exists()
    assert not Organization.objects.exists()
    assert User.objects.count() == 1
