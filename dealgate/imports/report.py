"""What an import did: counts, warnings and bad rows, kept small in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# The count phrase lives in core.text for every part of the product; callers
# that import it from here keep working.
from dealgate.core.text import counted

# A file with a systematic fault can have a bad row on every line; the first
# thousand say what is wrong, the count says how much.
MAX_BAD_ROWS = 1000
# Warnings are counted per message; messages quoting values (a misspelled
# name) are bounded by the distinct values, and capped here all the same.
MAX_WARNINGS = 200
OTHER_WARNINGS = "other warnings"
# The longest reason or warning a report keeps. Cells are quoted cut where
# messages are made (csvsource.quoted); this bounds a report's line whatever
# else a message repeats, keeping its start and its end.
MAX_MESSAGE = 500


def bounded(message: str) -> str:
    """`message`, or its start and end joined by "…" when it is longer than
    MAX_MESSAGE characters."""
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE * 3 // 5
    tail = MAX_MESSAGE - head - 1
    return f"{message[:head]}…{message[-tail:]}"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A record that was not imported: where it starts, which column, and why.

    `file` is empty for the deals file and names a side file otherwise.
    """

    line: int
    column: str | None
    reason: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.file else f"line {self.line}"
        if self.column:
            return f"{where}: {self.column}: {self.reason}"
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    """The outcome of one import.

    Counts describe the work done inside the import's transaction;
    `committed` says whether it was kept. A dry run, or an all-or-nothing
    import that met a bad row, reports what it would have written and
    commits nothing.
    """

    file: str
    mapping: str
    pipeline: str
    dry_run: bool = False
    all_or_nothing: bool = True
    rows_read: int = 0
    deals_created: int = 0
    already_present: int = 0
    events_created: int = 0
    bad_row_count: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    # Warning -> the first line of the deals file it was given for, when it
    # was given for rows: a name joined to another spelling says where.
    warning_lines: dict[str, int] = field(default_factory=dict)
    # Per kind of side record ("organizations", "users" ...): new and reused.
    created: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    committed: bool = False
    duration: float = 0.0
    # True once a bad row (or one of a row's bad values) was left out of
    # `bad_rows` for want of room.
    bad_rows_cut: bool = False
    # The first line of the deals file with a bad row (or value) left out:
    # every bad row before it is listed.
    cut_at_line: int | None = None

    def bad(self, line: int, column: str | None, reason: str, file: str = "") -> None:
        self.bad_row_count += 1
        if len(self.bad_rows) < MAX_BAD_ROWS:
            self.bad_rows.append(BadRow(line, column, bounded(reason), file))
        else:
            self._cut(line, file)

    def bad_values(
        self, line: int, problems: list[tuple[str, str]], file: str = ""
    ) -> None:
        """One bad row with several bad values, each (column, reason); `file`
        names a side file the row is in (empty: the main file)."""
        self.bad_row_count += 1
        room = max(MAX_BAD_ROWS - len(self.bad_rows), 0)
        if room < len(problems):
            self._cut(line, file)
        self.bad_rows += [
            BadRow(line, column, bounded(reason), file)
            for column, reason in problems[:room]
        ]

    def _cut(self, line: int, file: str = "") -> None:
        self.bad_rows_cut = True
        if not file and (self.cut_at_line is None or line < self.cut_at_line):
            self.cut_at_line = line

    def warn(self, message: str, count: int = 1, line: int | None = None) -> None:
        """Count `message` for `count` rows; `line`, the deals file's line
        of the row it was given for, is kept for the first such row."""
        if len(message) > MAX_MESSAGE:
            message = bounded(message)
        if message not in self.warnings and len(self.warnings) >= MAX_WARNINGS:
            message = OTHER_WARNINGS
        self.warnings[message] = self.warnings.get(message, 0) + count
        if line is not None and message != OTHER_WARNINGS:
            first = self.warning_lines.setdefault(message, line)
            if line < first:
                self.warning_lines[message] = line

    def warn_kept(self, warnings: Iterable[str], line: int | None = None) -> None:
        """Give the `warnings` of one row, from `line`, once it is sure to be
        written (or, in a dry run, would be): a converter returns a row's
        warnings with the row, and a bad row, a repeat or a row already
        present is never counted in them, as nothing is done to it."""
        for message in warnings:
            self.warn(message, line=line)

    def count_side(self, kind: str, *, created: int, reused: int) -> None:
        self.created[kind] = self.created.get(kind, 0) + created
        self.reused[kind] = self.reused.get(kind, 0) + reused

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.duration if self.duration > 0 else 0.0

    @property
    def keeps_nothing(self) -> bool:
        """True when the import (or, for a dry run, a real run) keeps no deal."""
        failed = self.all_or_nothing and self.bad_row_count > 0
        return failed or self.deals_created == 0

    @property
    def refused_for_bad_rows(self) -> bool:
        """Bad rows are why nothing was kept: an all-or-nothing import met
        one, or every row of a --skip-bad import was bad. (A re-run that
        finds the good rows already present and skips the bad ones again
        did what it was asked.) The command exits 1 on this."""
        if not self.bad_row_count:
            return False
        return self.all_or_nothing or (self.keeps_nothing and not self.already_present)

    def outcome(self) -> str:
        """The last line of the report: what the import kept, in words."""
        if self.dry_run:
            return "dry run: nothing was written"
        if not self.committed:
            return (
                "nothing was imported: fix the bad rows, or skip them with --skip-bad"
            )
        if self.bad_row_count and self.refused_for_bad_rows:
            return "nothing was imported: every row read was bad; fix them"
        skipped = "; the bad rows listed were skipped" if self.bad_row_count else ""
        if self.keeps_nothing:
            return self._nothing_new() + skipped
        return "imported" + skipped

    def _nothing_new(self) -> str:
        """Why a committed import that was not refused kept nothing. A re-run
        of a file, or a file without rows, is no failure: it says so."""
        if not self.rows_read:
            return "nothing to import: the file has no rows below its header"
        good = self.rows_read - self.bad_row_count
        if self.already_present != good:
            return (
                f"nothing new: {self.already_present:,} of {good:,} good rows "
                "were already present"
            )
        if good == 1:
            rows = "the one good row was" if self.bad_row_count else "the row was"
        elif self.bad_row_count:
            rows = f"the {good:,} good rows were"
        else:
            rows = f"all {good:,} rows were"
        return f"nothing new: {rows} already present"

    def __str__(self) -> str:
        return (
            f"{self.file}: {counted(self.rows_read, 'row')} read, "
            f"{counted(self.deals_created, 'deal')} "
            f"{'created' if self.committed else 'not kept'}, "
            f"{self.already_present:,} already present, "
            f"{counted(self.bad_row_count, 'bad row')}; {self.outcome()}"
        )

    def lines(self) -> list[str]:
        """The whole report as text lines: counts, warnings, bad rows, outcome."""
        lines = [
            f"{self.file} (mapping {self.mapping}, pipeline {self.pipeline})",
            f"  rows read: {self.rows_read:,} in {self.duration:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s)",
            *self.count_lines("created" if self.committed else "would be created"),
        ]
        if self.warnings:
            lines.append("warnings:")
            ranked = sorted(self.warnings.items(), key=lambda item: (-item[1], item[0]))
            lines += [
                f"  {message}: {counted(count, 'row')}{self._first_line(message)}"
                for message, count in ranked
            ]
        if self.bad_rows:
            # A row with several bad values takes an entry for each.
            shown = len({(bad.file, bad.line) for bad in self.bad_rows})
            more = f", first {shown:,} listed" if self.bad_rows_cut else ""
            lines.append(f"bad rows ({self.bad_row_count:,}{more}):")
            lines += [f"  {bad}" for bad in self.bad_rows]
        lines.append(self.outcome())
        return lines

    def _first_line(self, message: str) -> str:
        """Where the rows `message` was given for start, if it was given
        for rows: ", on line 7", or ", first on line 7" for several."""
        line = self.warning_lines.get(message)
        if line is None:
            return ""
        first = "first " if self.warnings[message] > 1 else ""
        return f", {first}on line {line}"

    def count_lines(self, verb: str) -> list[str]:
        """What was (or would be) written; other importers count their own."""
        lines = [
            f"  deals: {self.deals_created:,} {verb}, {self.already_present:,} "
            f"already present, {self.bad_row_count:,} bad",
            f"  stage events: {self.events_created:,} {verb}",
        ]
        for kind, created in self.created.items():
            reused = self.reused.get(kind, 0)
            lines.append(f"  {kind}: {created:,} {verb}, {reused:,} already present")
        return lines
