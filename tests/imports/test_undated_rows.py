"""The warning for rows that give no date says which rows, not the file."""

import pytest

from dealgate.imports.services import import_deals
from tests.importing import (
    SMALL_MAPPING,
    make_import_pipeline,
    write_csv,
    write_mapping,
)

pytestmark = pytest.mark.django_db


def test_rows_without_dates_are_counted_and_named_by_their_columns(tmp_path):
    sales = make_import_pipeline()
    path = write_csv(
        tmp_path,
        "Id,Deal,Stage,Entered,Closed\n"
        "D1,Orbit migration,Won,2026-03-02,2026-04-14\n"
        "D2,Helix audit,Open,,\n"
        "D3,Quasar support,Open,,\n",
    )
    report = import_deals(path, write_mapping(tmp_path, SMALL_MAPPING), pipeline=sales)
    message = "no date in 'Entered' or 'Closed'; creation and stage entry unknown"
    assert report.warnings == {message: 2}
    assert f"  {message}: 2 rows, first on line 3" in report.lines()


def test_a_mapping_without_date_columns_says_the_file_has_none(tmp_path):
    sales = make_import_pipeline()
    mapping = write_mapping(tmp_path, '[columns]\ntitle = "Deal"\n')
    path = write_csv(tmp_path, "Deal\nA\nB\n")
    report = import_deals(path, mapping, pipeline=sales)
    assert (
        report.warnings["no dates in the file; creation and stage entry unknown"] == 2
    )
