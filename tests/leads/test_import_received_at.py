"""A leads mapping's `created_at` column is when each inquiry came in: the
lead is captured as received then, its response window starting then, and
the cell is read and judged as a deal file's creation date. A mapping key
that the import would not honour is refused before the file is read."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.errors import ValidationError
from dealgate.leads.imports import import_leads

MAPPING = """
name = "backlog"
date_format = "YYYY-MM-DD HH:MM"
[columns]
external_id = "Id"
name = "Name"
email = "Mail"
country = "Land"
created_at = "Received"
"""
HEADER = "Id,Name,Mail,Land,Received\n"
NOT_YET = "has not happened yet: it is more than 2 days after the import began, "


def imported(tmp_path, pipeline, rows: str, mapping: str = MAPPING, **options):
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    toml = tmp_path / "backlog.toml"
    toml.write_text(mapping, encoding="utf-8")
    return import_leads(path, str(toml), pipeline=pipeline, **options)


def test_a_lead_is_received_when_its_row_says_and_its_window_started_then(
    routed, now, tmp_path
):
    from dealgate.leads.models import Lead

    report = imported(
        tmp_path, routed, "L1,Ida Berg,ida@berg.example,DE,2026-06-01 10:00\n"
    )

    assert report.committed and report.leads_created == 1
    lead = Lead.objects.get()
    # 10:00 in Berlin, the pipeline's zone, is 08:00 UTC.
    received = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
    assert lead.created_at == lead.assigned_at == received
    assert received < lead.response_due_at < now


def test_a_row_without_a_received_time_is_received_now(routed, now, tmp_path):
    from dealgate.leads.models import Lead

    imported(tmp_path, routed, "L1,Ida Berg,ida@berg.example,DE,\n")

    assert Lead.objects.get().created_at == now


def test_a_received_time_that_does_not_read_is_a_bad_value_with_the_others(
    routed, now, tmp_path
):
    report = imported(
        tmp_path,
        routed,
        "L1,Ida Berg,ida@berg.example,DE,01/06/2026\n"
        "L2,Jan Kurz,jan@@kurz,DE,2026-06-01\n",
        all_or_nothing=False,
    )

    assert [str(bad) for bad in report.bad_rows] == [
        "line 2: Received: '01/06/2026' is not a date in YYYY-MM-DD HH:MM",
        "line 3: Mail: 'jan@@kurz' is not an email address like name@example.com",
        "line 3: Received: '2026-06-01' is not a date in YYYY-MM-DD HH:MM",
    ]
    assert report.leads_created == 0


def test_a_received_time_far_ahead_is_a_bad_row_a_day_ahead_a_warning(
    routed, now, tmp_path
):
    from dealgate.leads.models import Lead

    report = imported(
        tmp_path,
        routed,
        "L1,Ida Berg,ida@berg.example,DE,2062-06-01 10:00\n"
        "L2,Jan Kurz,jan@kurz.example,DE,2026-06-11 10:00\n",
        all_or_nothing=False,
    )

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: Received: '2062-06-01 10:00' {NOT_YET}2026-06-10 14:00 Europe/Berlin"
    ]
    assert report.warnings == {
        "Received after 2026-06-10 14:00 Europe/Berlin, in the future; "
        "received at 2026-06-10 14:00 Europe/Berlin instead": 1
    }
    assert Lead.objects.get().name == "Jan Kurz"


def test_a_lead_received_ahead_is_taken_in_now_and_a_reply_today_answers_it(
    routed, now, tmp_path
):
    from dealgate import timesource
    from dealgate.clocks.models import Clock, Notice
    from dealgate.clocks.sweep import sweep
    from dealgate.leads.models import Lead
    from dealgate.leads.services import record_response

    imported(tmp_path, routed, "L1,Ida Berg,ida@berg.example,DE,2026-06-11 10:00\n")
    lead = Lead.objects.get()
    assert lead.created_at == lead.assigned_at == now
    assert Clock.objects.get(lead=lead).started_at == now

    with timesource.frozen_at(now + dt.timedelta(minutes=5)):
        record_response(lead.pk, kind="call", by=lead.owner)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.ANSWERED
    assert lead.first_response_at == now + dt.timedelta(minutes=5)

    with timesource.frozen_at(now + dt.timedelta(days=3)):
        sweep()
    assert not Notice.objects.exists()


def test_a_reply_at_any_time_after_an_imported_lead_exists_answers_it(
    routed, now, tmp_path
):
    from dealgate import timesource
    from dealgate.leads.models import Lead
    from dealgate.leads.services import record_response

    imported(tmp_path, routed, "L1,Ida Berg,ida@berg.example,DE,2026-06-09 10:00\n")
    lead = Lead.objects.get()

    with timesource.frozen_at(now + dt.timedelta(days=1)):
        record_response(lead.pk, kind="email", by=lead.owner, at=lead.created_at)
    lead.refresh_from_db()
    assert lead.first_response_at == lead.created_at
    assert lead.response_business_minutes == 0


def test_an_unknown_date_format_is_refused_naming_the_mapping(routed, now, tmp_path):
    mapping = MAPPING.replace("YYYY-MM-DD HH:MM", "someday")
    with pytest.raises(ValidationError, match=r"^mapping backlog: date_format: "):
        imported(tmp_path, routed, "", mapping=mapping)


def test_a_custom_table_is_refused_before_the_file_is_read(routed, now, tmp_path):
    from dealgate.leads.models import Lead

    mapping = MAPPING + '[custom]\nbudget = "Budget"\n'
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, "L1,Ida Berg,ida@berg.example,DE,\n", mapping)

    assert str(refused.value.message).startswith(
        "mapping backlog: custom: a lead has no custom fields to keep these "
        "values in; remove [custom]"
    )
    assert not Lead.objects.exists()


def test_an_unknown_key_is_refused_naming_the_mapping_and_the_keys(
    routed, now, tmp_path
):
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, "", mapping='currency = "EUR"\n' + MAPPING)

    assert refused.value.message == (
        "mapping backlog: currency: unknown key; known keys: name, description, "
        "source, encoding, delimiter, date_format, historic, columns"
    )


def test_every_missing_column_is_named_at_once(routed, now, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Id,Land\nL1,DE\n", encoding="utf-8")
    toml = tmp_path / "backlog.toml"
    toml.write_text(MAPPING, encoding="utf-8")

    with pytest.raises(ValidationError) as refused:
        import_leads(path, str(toml), pipeline=routed)

    assert refused.value.message.startswith(
        "the file has no columns 'Name', 'Mail', 'Received', which mapping "
        "backlog reads"
    )


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('encoding = "latin-9000"', "encoding: 'latin-9000' is not a known text"),
        ('delimiter = ";;"', "delimiter: must be one character, not ';;'"),
    ],
)
def test_an_unknown_encoding_or_a_long_delimiter_is_refused_before_reading(
    routed, now, tmp_path, line, says
):
    with pytest.raises(ValidationError) as refused:
        imported(tmp_path, routed, "", mapping=f"{line}\n{MAPPING}")

    assert refused.value.message.startswith(f"mapping backlog: {says}")
