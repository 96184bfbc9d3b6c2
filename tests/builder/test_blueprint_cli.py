"""`dealgate blueprint`: the report, and the proposed file with -o."""

from __future__ import annotations

from dealgate.cli import main
from dealgate.core.pipeline_file import load_pipeline_file
from tests.builder.test_blueprint_db import history  # noqa: F401 (a fixture)


def test_the_report_lists_paths_times_and_stops(history, pipeline, capsys):  # noqa: F811
    status = main(["blueprint", "--pipeline", pipeline.key])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[:4] == [
        "blueprint of all closed deals: 5 deals, 3 won, 2 lost",
        "paths:",
        "  Inquiry received → Discovery call booked → Won: 3 (60.0%)",
        "  Inquiry received → Lost: 2 (40.0%)",
    ]
    # The lost median is 5.25 business days: halves round up, to 5.3.
    assert (
        "  Inquiry received: passed by 5, none could skip it (no deal came to it or "
        "past it from an earlier stage); won 1.0 / 1.0 (n=3); lost 5.3 / 5.4 (n=2)"
        in out
    )
    assert "  Inquiry received: 2 (100.0%)" in out


def test_a_stage_no_deal_could_skip_says_so_instead_of_0_of_0(
    history,  # noqa: F811
    pipeline,
    capsys,
):
    assert main(["blueprint", "--pipeline", pipeline.key]) == 0

    out = capsys.readouterr().out
    # Every deal starts in inquiry; the won ones came to discovery from it.
    assert "  Inquiry received: passed by 5, none could skip it" in out
    assert "  Discovery call booked: passed by 3, skipped by 0 of 3;" in out
    assert " of 0" not in out


def test_the_proposed_file_is_written_and_valid(history, pipeline, tmp_path, capsys):  # noqa: F811
    pipeline.stages.update(buyer_action="The buyer asked for it")
    target = tmp_path / "proposed.toml"

    status = main(
        ["blueprint", "--pipeline", pipeline.key, "--last", "3", "-o", str(target)]
    )

    assert status == 0
    assert f"wrote the proposed pipeline to {target}" in capsys.readouterr().out
    spec = load_pipeline_file(target)
    assert spec.key == pipeline.key
    assert target.read_text().startswith(
        "# Proposed by `dealgate blueprint` for pipeline 'new-business' from the "
        "last 3 closed\n# deals (3: 1 won, 2 lost,"
    )


def test_last_must_be_a_positive_number(pipeline, capsys):
    try:
        main(["blueprint", "--last", "0"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "expected a whole number from 1" in capsys.readouterr().err
