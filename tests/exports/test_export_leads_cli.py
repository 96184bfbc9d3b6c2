"""`dealgate export leads`: the file's exact content, its filters and its
refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from dealgate.cli import main
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead

T0 = dt.datetime(2026, 6, 1, 7, 30, tzinfo=dt.UTC)


@pytest.fixture
def leads(pipeline, alice):
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="inquiry"),
        title="From a lead",
        created_at=T0,
    )
    answered = Lead.objects.create(
        pipeline=pipeline,
        name="Jo Buyer",
        email="jo@acme.example",
        phone="+49 30 123456",
        company="-Acme",
        country="DE",
        source="partner",
        status="converted",
        owner=alice,
        channel="api",
        created_at=T0,
        first_response_at=T0 + dt.timedelta(minutes=42),
        response_business_minutes=42.5,
        deal=deal,
    )
    waiting = Lead.objects.create(
        pipeline=pipeline, name="Kim", channel="form", created_at=T0
    )
    return answered, waiting, deal


def _export(capsys, *args: str) -> str:
    assert main(["export", "leads", *args]) == 0
    return capsys.readouterr().out


def test_the_export_of_two_leads_reads_exactly_so(leads, capsys):
    answered, waiting, deal = leads
    assert _export(capsys).split("\r\n") == [
        "id,name,email,phone,company,country,source,status,owner,pipeline,"
        "created_at,first_response_at,first_response_business_minutes,deal_id",
        f"{answered.pk},Jo Buyer,jo@acme.example,'+49 30 123456,'-Acme,DE,partner,"
        "converted,alice,new-business,2026-06-01T09:30:00+02:00,"
        f"2026-06-01T10:12:00+02:00,43,{deal.pk}",
        f"{waiting.pk},Kim,,,,,,new,,new-business,2026-06-01T09:30:00+02:00,,,",
        "",
    ]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--status", "open"], ["Kim"]),
        (["--status", "converted"], ["Jo Buyer"]),
        (["--owner", "alice"], ["Jo Buyer"]),
        (["--owner", "(none)"], ["Kim"]),
        (["--pipeline", "new-business", "--status", "new"], ["Kim"]),
    ],
)
def test_the_filters_choose_the_leads_written(leads, capsys, args, names):
    rows = list(csv.DictReader(io.StringIO(_export(capsys, *args))))
    assert [row["name"] for row in rows] == names


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--pipeline", "renewals"], "--pipeline: there is no pipeline 'renewals'"),
        (["--status", "stuck"], "--status: 'stuck' is not a status; use open, new"),
        (["--owner", "zed"], "--owner: there is no user 'zed'"),
    ],
)
def test_a_filter_that_names_nothing_is_refused_naming_the_option(
    leads, capsys, args, said
):
    assert main(["export", "leads", *args]) == 2
    assert said in capsys.readouterr().err
