"""-v, --as-of and --database-url: before the command's name or after it."""

from __future__ import annotations

import argparse

import pytest

from dealgate import cli
from dealgate.cli import build_parser, main

MOVE = ["deal", "move", "4", "won", "--as", "alice"]


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def every_command(parser: argparse.ArgumentParser) -> list[str]:
    """`sweep`, `deal move`, ...: every command a user can run."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                below = every_command(command)
                names += [f"{name} {n}" for n in below] if below else [name]
    return names


@pytest.mark.parametrize("command", every_command(build_parser()))
def test_every_command_offers_the_common_options_after_its_name(command, capsys):
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])

    usage = capsys.readouterr().out
    assert "[--as-of DATE] [--database-url URL] [-v]" in " ".join(usage.split())
    assert "options of every command:" in usage


@pytest.mark.parametrize(
    "argv",
    [
        ["--as-of", "2018-01-15", "--database-url", "sqlite:///a", "-v", *MOVE],
        [*MOVE, "--as-of", "2018-01-15", "--database-url", "sqlite:///a", "-v"],
        ["deal", "--verbose", "--as-of", "2018-01-15", "move", "4", "won"]
        + ["--as", "alice", "--database-url", "sqlite:///a"],
    ],
)
def test_the_common_options_mean_the_same_before_or_after_the_command(argv):
    args = parsed(*argv)

    assert (args.as_of, args.database_url, args.verbose) == (
        "2018-01-15",
        "sqlite:///a",
        True,
    )
    # The command's own options are still its own: --as is not --as-of.
    assert args.username == "alice"


def test_options_given_before_the_command_are_kept_when_none_follow_it():
    args = parsed(
        "-v", "--as-of", "2018-01-15", "--database-url", "sqlite:///a", "sweep"
    )

    assert (args.as_of, args.database_url, args.verbose) == (
        "2018-01-15",
        "sqlite:///a",
        True,
    )


def test_given_before_and_after_the_command_the_one_after_wins():
    args = parsed(
        "--as-of",
        "2018-01-15",
        "--database-url",
        "sqlite:///before",
        "report",
        "--as-of",
        "2019-03-01",
        "--database-url",
        "sqlite:///after",
    )

    assert (args.as_of, args.database_url) == ("2019-03-01", "sqlite:///after")


def test_without_common_options_nothing_is_set():
    args = parsed("sweep")

    assert (args.as_of, args.database_url, args.verbose) == (None, None, False)


@pytest.mark.parametrize(
    "argv",
    [
        ["--as-of", "2024-02-30", "sweep"],
        ["sweep", "--as-of", "2024-02-30"],
        # A bad date is refused even where a good one after it would win.
        ["--as-of", "2024-02-30", "sweep", "--as-of", "2018-01-15"],
    ],
)
def test_an_as_of_that_is_no_date_is_refused_naming_it_in_either_place(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)

    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "argument --as-of: as-of must be a date (2017-12-31)" in err
    assert "'2024-02-30'" in err


def test_a_command_defining_an_option_of_every_command_is_refused_by_name(
    monkeypatch,
):
    from dealgate.commands import notices

    def register(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("notices")
        parser.add_argument("--verbose", action="count", default=0)

    monkeypatch.setattr(notices, "register", register)

    with pytest.raises(ValueError, match="dealgate notices: its --verbose clashes"):
        cli.build_parser()


@pytest.mark.parametrize(
    "argv",
    [
        ["report"],
        ["sweep"],
        ["serve"],
        ["migrate"],
        # Refused even where --as-of sets this run's date.
        ["--as-of", "2018-01-15", "report"],
    ],
)
def test_a_dealgate_as_of_that_is_no_date_is_refused_by_every_command(
    argv, monkeypatch, capsys
):
    monkeypatch.setenv("DEALGATE_AS_OF", "garbage")

    assert main(argv) == 2

    assert capsys.readouterr().err == (
        "dealgate: DEALGATE_AS_OF: as-of must be a date (2017-12-31) or an ISO "
        "instant; got 'garbage'\n"
    )
