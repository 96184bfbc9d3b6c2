"""A deals export read back with the built-in `dealgate` mapping: the
deals come back as they were, formula cells without the apostrophe."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal, Organization, Product
from dealgate.pipelines.models import Pipeline

T0 = dt.datetime(2026, 6, 1, 7, 30, tzinfo=dt.UTC)
CUSTOM = [
    {"key": "budget", "label": "Budget", "type": "number"},
    {"key": "need", "label": "Need", "type": "text"},
    {"key": "signed", "label": "Signed", "type": "bool"},
    {"key": "title", "label": "A clashing key", "type": "text"},
]


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=3)):
        yield


@pytest.fixture
def exported(pipeline, alice, tmp_path):
    pipeline.custom_fields = CUSTOM
    pipeline.save()
    stage = pipeline.stages.get(key="proposal")
    Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title='=HYPERLINK("x")',
        organization=Organization.objects.create(name="-Acme"),
        product=Product.objects.create(name="+Care"),
        owner=alice,
        value=Decimal("12500.50"),
        currency="EUR",
        custom={"budget": 12000.5, "need": "'=kept", "signed": True, "title": "t"},
        created_at=T0,
        stage_entered_at=T0 + dt.timedelta(hours=1),
        expected_close_date=dt.date(2026, 7, 31),
    )
    Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Lost one",
        owner=alice,
        status="lost",
        loss_reason="other",
        loss_note="+ they chose a rival",
        created_at=T0,
        stage_entered_at=T0,
        closed_at=T0 + dt.timedelta(days=1),
    )
    path = tmp_path / "deals.csv"
    assert main(["export", "deals", "--pipeline", "new-business", str(path)]) == 0
    return path


@pytest.fixture
def copy(pipeline):
    """A second pipeline with the same stages, reasons and fields."""
    other = Pipeline.objects.create(
        key="copy",
        name="Copy",
        calendar=pipeline.calendar,
        loss_reasons=pipeline.loss_reasons,
        custom_fields=CUSTOM,
    )
    for stage in pipeline.stages.all():
        stage.pk = None
        stage.pipeline = other
        stage.save()
    return other


FIELDS = (
    "title",
    "organization__name",
    "product__name",
    "owner__username",
    "value",
    "currency",
    "stage__key",
    "status",
    "loss_reason",
    "loss_note",
    "custom",
    "created_at",
    "stage_entered_at",
    "closed_at",
    "expected_close_date",
)


def _deals(pipeline) -> list[tuple]:
    return list(pipeline.deals.order_by("created_at", "title").values_list(*FIELDS))


def test_a_deals_export_imports_back_as_the_deals_it_holds(
    pipeline, copy, exported, capsys
):
    args = ["import", "deals", str(exported), "--mapping", "dealgate"]
    assert main([*args, "--pipeline", "copy"]) == 0
    assert "deals: 2 created, 0 already present, 0 bad" in capsys.readouterr().out
    assert _deals(copy) == _deals(pipeline)
    assert _deals(copy)[0][0] == '=HYPERLINK("x")'


def test_an_export_read_back_twice_imports_nothing_the_second_time(
    copy, exported, capsys
):
    args = ["import", "deals", str(exported), "--mapping", "dealgate"]
    assert main([*args, "--pipeline", "copy"]) == 0
    assert main([*args, "--pipeline", "copy"]) == 0
    assert "nothing new" in capsys.readouterr().out
    assert copy.deals.count() == 2


def test_the_export_names_a_clashing_custom_key_apart(exported):
    header = next(csv.reader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert header.count("title") == 1
    assert "custom.title" in header


@pytest.mark.parametrize(
    ("key", "value"),
    [("custom_from_header", "yes"), ("formula_apostrophes", "strip")],
)
def test_a_mapping_refuses_a_round_trip_setting_it_cannot_read_naming_it(key, value):
    from dealgate.errors import ValidationError
    from dealgate.imports.mappings import mapping_from_dict

    with pytest.raises(ValidationError) as refused:
        mapping_from_dict({"columns": {"title": "t"}, key: value}, name="mine")
    assert key in str(refused.value)


def test_a_product_the_installation_lacks_is_made_as_the_export_names_it(
    copy, exported, capsys
):
    from dealgate.deals.models import Product

    Product.objects.filter(name="+Care").update(name="+Care (old)")
    args = ["import", "deals", str(exported), "--mapping", "dealgate"]
    assert main([*args, "--pipeline", "copy"]) == 0
    assert copy.deals.filter(product__name="+Care").count() == 1
