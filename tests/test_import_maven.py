"""The built-in `maven-crm` mapping on the shipped demo data (8,800 deals)."""

import datetime as dt
import shutil
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from dealgate.accounts.models import Team, User
from dealgate.deals.models import Deal, Organization, Product, StageEvent
from dealgate.errors import ValidationError
from dealgate.imports.mappings import MAVEN_DEMO_DIR
from dealgate.imports.services import import_deals
from tests.importing import make_import_pipeline

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def maven_pipeline(db):
    return make_import_pipeline(
        "maven",
        timezone="America/New_York",
        loss_reasons=[{"key": "not-recorded", "label": "Not recorded"}],
    )


@pytest.fixture
def report(maven_pipeline):
    return import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=maven_pipeline)


def midnight(day: str) -> dt.datetime:
    local = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), NEW_YORK)
    return local.astimezone(dt.UTC)


def test_every_opportunity_becomes_one_deal(report):
    assert report.committed
    assert (report.rows_read, report.deals_created, report.bad_row_count) == (
        8800,
        8800,
        0,
    )
    assert Deal.objects.count() == 8800


def test_stages_and_statuses_match_the_files_counts(report):
    found = Counter(Deal.objects.values_list("status", "stage__key"))
    assert found == {
        ("won", "engaging"): 4238,
        ("lost", "engaging"): 2473,
        ("open", "engaging"): 1589,
        ("open", "prospecting"): 500,
    }


def test_side_files_give_organizations_products_teams_and_people(report):
    assert Organization.objects.count() == 85
    assert Organization.objects.filter(parent__isnull=False).count() == 15
    acme = Organization.objects.get(name="Acme Corporation")
    assert (acme.sector, acme.year_established, acme.employees) == (
        "technolgy",
        1996,
        2822,
    )
    assert str(acme.revenue_musd) == "1100.04"
    assert Product.objects.count() == 7
    assert User.objects.filter(role="rep").count() == 35
    reps_with_deals = User.objects.filter(role="rep", deals__isnull=False).distinct()
    assert reps_with_deals.count() == 30
    assert User.objects.filter(role="manager").count() == 6
    moses = User.objects.get(username="moses.frase")
    assert (moses.get_full_name(), moses.team.manager.username) == (
        "Moses Frase",
        "dustin.brinkmann",
    )
    assert not moses.has_usable_password()
    assert Team.objects.count() == 6


def test_deals_without_an_account_have_no_organization_and_are_counted(report):
    assert Deal.objects.filter(organization__isnull=True).count() == 1425
    assert report.warnings["account empty, deal has no organization"] == 1425


def test_gtxpro_is_matched_to_gtx_pro_and_reported(report):
    assert report.warnings["product 'GTXPro' matched 'GTX Pro' by spelling"] == 1480
    assert Deal.objects.filter(product__name="GTX Pro").count() == 1480
    assert not Product.objects.filter(name="GTXPro").exists()


def test_a_deal_engaged_on_2016_10_20_entered_its_stage_that_day(report):
    deal = Deal.objects.get(external_id="1C1I7A6R")
    assert deal.title == "GTX Plus Basic for Cancity"
    assert deal.stage_entered_at == midnight("2016-10-20")
    assert deal.closed_at == midnight("2017-03-01")
    entered, won = deal.events.all()
    assert (entered.to_stage.key, entered.to_status, entered.at) == (
        "engaging",
        "open",
        midnight("2016-10-20"),
    )
    assert (won.from_status, won.to_status, won.at, won.from_entered_at) == (
        "open",
        "won",
        midnight("2017-03-01"),
        midnight("2016-10-20"),
    )
    assert won.from_business_minutes > 0
    assert deal.responsible == deal.owner == won.responsible


def test_prospecting_deals_keep_unknown_dates_unknown(report):
    prospecting = Deal.objects.filter(stage__key="prospecting")
    assert prospecting.count() == 500
    assert not prospecting.exclude(created_at=None).exists()
    assert not prospecting.exclude(stage_entered_at=None).exists()
    assert not StageEvent.objects.filter(deal__in=prospecting).exists()


def test_lost_deals_have_no_value_and_the_not_recorded_reason(report):
    lost = Deal.objects.filter(status="lost")
    assert set(lost.values_list("loss_reason", flat=True)) == {"not-recorded"}
    assert not lost.exclude(value=None).exists()
    assert report.warnings["close_value 0 on a lost deal stored as no value"] == 2473


def test_every_engaged_deal_has_its_history(report):
    # One entry per engaged deal, one close per won or lost deal.
    assert report.events_created == StageEvent.objects.count() == 8300 + 6711
    assert not StageEvent.objects.exclude(source="import").exists()


def test_importing_the_demo_twice_duplicates_nothing(report, maven_pipeline):
    again = import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=maven_pipeline)
    assert (again.deals_created, again.already_present) == (0, 8800)
    assert again.created == {
        "organizations": 0,
        "products": 0,
        "teams": 0,
        "users": 0,
    }
    assert Deal.objects.count() == 8800
    assert StageEvent.objects.count() == report.events_created
    assert (Organization.objects.count(), User.objects.count()) == (85, 41)


def test_the_report_lists_every_quirk_it_handled(report):
    lines = report.lines()
    assert (
        "  product 'GTXPro' matched 'GTX Pro' by spelling: 1,480 rows, first on line 3"
    ) in lines
    assert (
        "  account empty, deal has no organization: 1,425 rows, first on line 11"
    ) in lines
    assert lines[-1] == "imported"


def copy_of_demo(folder):
    for path in MAVEN_DEMO_DIR.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    return folder


def test_a_bad_side_file_row_is_reported_with_its_file_and_line(
    maven_pipeline, tmp_path
):
    folder = copy_of_demo(tmp_path)
    accounts = folder / "accounts.csv"
    text = accounts.read_text().replace(
        "Betasoloin,medical,1999,251.41", "Betasoloin,medical,1999,lots"
    )
    accounts.write_text(text)
    report = import_deals(folder, "maven-crm", pipeline=maven_pipeline)
    assert not report.committed
    assert "accounts.csv line 3: revenue: 'lots' is not a number" in [
        str(bad) for bad in report.bad_rows
    ]
    assert "matches no organization in accounts.csv" in report.bad_rows[0].reason
    assert Organization.objects.count() == 0


def test_a_side_file_name_with_nothing_visible_is_a_bad_row(maven_pipeline, tmp_path):
    folder = copy_of_demo(tmp_path)
    accounts = folder / "accounts.csv"
    with accounts.open("a", encoding="utf-8") as file:
        file.write("\u3164,medical,1999,251.41,495,United States,\n")

    report = import_deals(folder, "maven-crm", pipeline=maven_pipeline)

    assert [str(bad) for bad in report.bad_rows if "visible" in str(bad)] == [
        f"accounts.csv line {len(accounts.read_text().splitlines())}: account: "
        "holds no visible characters (U+3164)"
    ]


def test_a_side_files_long_parent_is_quoted_by_its_first_60_characters(
    maven_pipeline, tmp_path
):
    folder = copy_of_demo(tmp_path)
    accounts = folder / "accounts.csv"
    text = accounts.read_text()
    old = "Acme Corporation,technolgy,1996,1100.04,2822,United States,\n"
    assert old in text
    accounts.write_text(text.replace(old, old[:-1] + "Q" * 100_000 + "\n"))

    report = import_deals(folder, "maven-crm", pipeline=maven_pipeline)

    assert [str(bad) for bad in report.bad_rows if "QQQ" in str(bad)] == [
        f"accounts.csv line 2: subsidiary_of: '{'Q' * 59}…' matches no organization"
    ]


def test_a_side_files_long_name_repeated_is_quoted_by_its_first_60_characters(
    maven_pipeline, tmp_path
):
    folder = copy_of_demo(tmp_path)
    products = folder / "products.csv"
    lines = products.read_text().splitlines()
    name = "GTX " + "Z" * 150
    lines += [f"{name},GTX,1", f"{name},GTX,2"]
    products.write_text("\n".join(lines) + "\n")

    report = import_deals(folder, "maven-crm", pipeline=maven_pipeline)

    assert [str(bad) for bad in report.bad_rows if bad.file == "products.csv"] == [
        f"products.csv line {len(lines)}: product: '{name[:59]}…' is already on "
        f"line {len(lines) - 1}"
    ]


@pytest.mark.parametrize(
    ("file", "old", "new", "bad"),
    [
        (
            "accounts.csv",
            "Betasoloin,medical",
            "Beta\x1bsoloin,medical",
            "accounts.csv line 3: account: must be one line, without line breaks "
            "or control characters",
        ),
        (
            "sales_teams.csv",
            "Anna Snelling,Dustin Brinkmann,Central",
            f"Anna Snelling,Dustin Brinkmann,{'C' * 90}",
            "sales_teams.csv line 2: regional_office: is 109 characters long; "
            "the limit is 100",
        ),
        (
            "sales_teams.csv",
            "Anna Snelling,Dustin Brinkmann",
            "Anna Snelling,Dustin \u202eBrinkmann",
            "sales_teams.csv line 2: manager: must be one line, without line "
            "breaks or control characters",
        ),
    ],
)
def test_side_file_text_keeps_to_the_rules_of_every_door_and_is_never_cut(
    maven_pipeline, tmp_path, file, old, new, bad
):
    folder = copy_of_demo(tmp_path)
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    report = import_deals(folder, "maven-crm", pipeline=maven_pipeline)
    assert not report.committed
    assert bad in [str(row) for row in report.bad_rows]
    assert not Team.objects.filter(name__startswith="CCCC").exists()


def test_a_missing_side_file_stops_the_import_before_it_starts(
    maven_pipeline, tmp_path
):
    folder = copy_of_demo(tmp_path)
    (folder / "products.csv").unlink()
    with pytest.raises(ValidationError, match="needs products.csv beside the deals"):
        import_deals(folder, "maven-crm", pipeline=maven_pipeline)
    assert User.objects.count() == 0


def test_imported_open_deals_get_their_age_clocks_once(maven_pipeline):
    from dealgate.clocks.models import Clock

    maven_pipeline.stages.filter(key="engaging").update(age_limit_days=30)
    import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=maven_pipeline)
    # Engaging deals have an entry date; prospecting ones have none to count from.
    assert Clock.objects.filter(kind="age", state="running").count() == 1589
    import_deals(MAVEN_DEMO_DIR, "maven-crm", pipeline=maven_pipeline)
    assert Clock.objects.filter(kind="age").count() == 1589
