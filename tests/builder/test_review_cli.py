"""`dealgate review`: findings with their fixes, and --strict for CI."""

from __future__ import annotations

from dealgate.cli import main
from tests.builder.conftest import IT_SERVICES
from tests.web.helpers import make_deal


def test_a_clean_file_passes_even_with_strict(capsys):
    status = main(["review", str(IT_SERVICES), "--strict"])

    assert status == 0
    assert capsys.readouterr().out == f"{IT_SERVICES}: no findings\n"


def test_findings_name_the_line_and_the_fix(tmp_path, capsys):
    text = IT_SERVICES.read_text(encoding="utf-8")
    text = text.replace('name = "Proposal requested"', 'name = "Proposal sent"')
    path = tmp_path / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index('name = "Proposal sent"') + 1

    status = main(["review", str(path)])

    assert status == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:{line}: stages[2].name: stage 'proposal' (Proposal sent) is named "
        "for what the seller did ('sent'), not for what the buyer did",
        "  fix: name it for the buyer's act that puts a deal here, e.g. "
        '"Proposal requested" rather than "Proposal sent"',
        f"{path}: 1 finding",
    ]


def test_strict_exits_non_zero_on_any_finding(tmp_path, capsys):
    text = IT_SERVICES.read_text(encoding="utf-8")
    path = tmp_path / "pipeline.toml"
    broken = text.replace(
        '[[handoffs]]\nfrom = "proposal"\nto = "review"\nresponse_window = "1d"  '
        "# answer the buyer's questions within a working day\n"
        'responsible = "stage-owner"\n',
        "",
    )
    path.write_text(broken, encoding="utf-8")

    status = main(["review", str(path), "--strict"])

    out = capsys.readouterr().out
    assert status == 1
    assert "there is no handoff from 'proposal' to 'review'" in out


def test_an_invalid_file_prints_its_problems_and_exits_1(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text('key = "x"\n', encoding="utf-8")

    status = main(["review", str(path)])

    assert status == 1
    assert f"{path}:1: name: is required" in capsys.readouterr().err


def test_an_applied_pipeline_is_also_checked_against_its_data(it_services, now, capsys):
    for n in range(4):
        make_deal(it_services, "proposal", title=f"Deal {n}", days_in_stage=60)

    status = main(["review", "--pipeline", "it-services", "--strict"])

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0] == (
        "pipeline it-services: stages[2]: stage 'proposal' (Proposal requested) "
        "holds 100% of the open deals (4), more than the bottleneck share of 40%"
    )
    assert out[2].startswith(
        "pipeline it-services: stages[2].age_limit_days: open deals have sat in "
        "stage 'proposal' (Proposal requested) a median of"
    )
    assert out[-1] == "pipeline it-services: 2 findings"


def test_without_a_file_or_key_the_only_pipeline_is_reviewed(it_services, capsys):
    assert main(["review"]) == 0
    assert capsys.readouterr().out == "pipeline it-services: no findings\n"


def test_with_several_pipelines_review_asks_which(pipeline, it_services, capsys):
    assert main(["review"]) == 2
    assert "say which pipeline with --pipeline KEY (pipelines: it-services, " in (
        capsys.readouterr().err
    )
