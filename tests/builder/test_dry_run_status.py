"""`pipeline apply --dry-run` exits as the apply would: 0 when the plan
applies, 2 when its note says applying now is refused (nothing is written
either way), so a script that checks before applying is not misled."""

from __future__ import annotations

from dealgate.cli import main
from dealgate.pipelines.models import active_stages

from .test_apply_moves_in_order import late_deal, untouched


def test_a_dry_run_whose_plan_would_be_refused_exits_2(
    it_services, shrunk, capsys, now
):
    deal = late_deal(it_services)
    command = ["pipeline", "apply", str(shrunk), "--move", "review=proposal"]

    dry = main([*command, "--dry-run"])
    captured = capsys.readouterr()
    applied = main(command)

    assert dry == applied == 2
    assert "note: applying now is refused: 1 deal it would move" in captured.out
    assert captured.err == (
        "dealgate: nothing would be applied now: applying is refused, as the "
        "plan's note says\n"
    )
    assert untouched(it_services, deal)


def test_a_dry_run_whose_plan_applies_exits_0_and_writes_nothing(
    it_services, shrunk, capsys, now
):
    command = ["pipeline", "apply", str(shrunk), "--move", "review=proposal"]

    dry = main([*command, "--dry-run"])

    assert dry == 0
    assert capsys.readouterr().err == ""
    assert "review" in [stage.key for stage in active_stages(it_services)]
