"""`dealgate deal move` refuses what the move would not use, as the API's
move does (README: a move refuses what it would not use rather than drop
it): a loss reason or note with a move to a stage, and an override with a
loss. Before, the CLI moved the deal and dropped them, recorded nowhere."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.cli import main
from dealgate.deals.models import Deal

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def deal(pipeline, alice):
    stage = pipeline.stages.get(key="inquiry")
    return Deal.objects.create(
        pipeline=pipeline,
        stage=stage,
        title="Laptop fleet",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
    )


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0 + dt.timedelta(days=1)):
        yield


@pytest.mark.parametrize(
    ("to", "extra", "named"),
    [
        ("discovery", ["--reason", "price"], "--reason:"),
        ("discovery", ["--note", "too dear"], "--note:"),
        ("lost", ["--reason", "price", "--override", "agreed"], "--override:"),
    ],
)
def test_a_cli_move_refuses_a_field_it_would_not_use(
    deal, max_manager, capsys, to, extra, named
):
    args = ["deal", "move", str(deal.pk), to, "--as", "max", *extra]

    assert main(args) == 2
    assert named in capsys.readouterr().err
    deal.refresh_from_db()
    assert (deal.stage.key, deal.status) == ("inquiry", "open")
