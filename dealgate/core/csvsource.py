"""Read a CSV file of any size one record at a time, and parse its values.

Pure Python, no Django. The reader never holds more than one record; every
record carries the physical line it starts on, so a problem can be reported
as "line 14: close_date: ..." even when quoted fields span several lines.

The value parsers share one contract: an empty or blank field means "no
value" (None), never a placeholder such as 1900-01-01 or 0; anything else
either parses or raises `CellError` naming the column and the bad value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from dealgate.core import dates
from dealgate.core.names import name_key
from dealgate.core.numbers import too_large
from dealgate.core.text import check_text, counted, cut
from dealgate.errors import ValidationError

T = TypeVar("T")

# Parsed values are memoised per parser; real files repeat dates and names a
# lot, but the cache is emptied when it grows so memory stays flat.
_CACHE_LIMIT = 8192


# The longest cell the reader takes, in characters. The csv module's own
# limit (131,072) refused a long note as "field larger than field limit",
# naming neither its column nor a limit of ours; a cell up to this size is
# read whole, and the importer's check of its column names the column and
# that column's limit. Beyond it the record is bad, with this figure.
FIELD_LIMIT = 16 * 1024 * 1024


class CsvFormatError(Exception):
    """The file as a whole cannot be read (not CSV, not UTF-8, no header)."""


class CellError(ValueError):
    """One value that does not parse; `reason` quotes the value (`quoted`)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


def check_cell_text(
    column: str, text: str, limit: int, *, one_line: bool = False
) -> None:
    """Refuse `text` in the file's `column` as core.text's `check_text`
    refuses a person's (its length, its control characters), as a CellError
    naming the column."""
    try:
        check_text(text, column, limit=limit, one_line=one_line)
    except ValidationError as exc:
        # check_text names the field first; a bad row names its column.
        raise CellError(column, exc.message.removeprefix(f"{column} ")) from None


class Record(NamedTuple):
    """One data record. `error` is set when the record could not be split
    into the header's fields; `fields` is then unusable. (A tuple: made
    once per row, it costs half a frozen dataclass.)"""

    line: int
    fields: list[str]
    error: str | None = None


class CsvFile:
    """A CSV file opened for streaming; use as a context manager.

    The header is read on entry: names are stripped, and a byte-order mark is
    dropped both at the start of the file and anywhere inside a name (files
    glued together by hand carry one in the middle). Iterating yields every
    data record in order; fully blank lines are skipped and counted in
    `blank_lines`. A record with more or fewer fields than the header is
    yielded with `error` set, as is one the csv module refuses (a quote that
    is never closed); a file that is not text in `encoding` raises
    `CsvFormatError` naming the line, as does one that is plainly in another
    encoding than `encoding`: one starting with another Unicode encoding's
    byte-order mark, or, for an encoding that is not Unicode (cp1252), one
    that reads as UTF-8 (see `_Utf8Watch`).

    `named` is True when the person importing named `encoding` for this
    very file (the import's `--encoding`) rather than a mapping written
    for many: it is taken as their word, so the file is not watched for
    UTF-8, which a cp1252 file may look like by chance, and the errors
    name the option instead of the mapping. A byte-order mark is no guess
    and is still refused.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str = "utf-8-sig",
        delimiter: str = ",",
        named: bool = False,
    ) -> None:
        self.path = Path(path)
        self.encoding = encoding
        self.delimiter = delimiter
        self.named = named
        self.columns: tuple[str, ...] = ()
        self.blank_lines = 0
        self.size = 0
        self._raw: io.BufferedReader | None = None
        self._csv: csv._reader | None = None

    def __enter__(self) -> CsvFile:
        try:
            self._raw = open(self.path, "rb")  # noqa: SIM115 - closed in __exit__
        except OSError as exc:
            raise CsvFormatError(f"cannot open {self.path}: {exc.strerror}") from exc
        try:
            self.size = os.fstat(self._raw.fileno()).st_size
            self._check_byte_order_mark()
            text = self._text()
            # The limit is the process's; raised, never lowered under another.
            if csv.field_size_limit() < FIELD_LIMIT:
                csv.field_size_limit(FIELD_LIMIT)
            self._csv = csv.reader(text, delimiter=self.delimiter, strict=True)
            self.columns = self._read_header()
        except BaseException:
            self._raw.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._raw is not None:
            self._raw.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file the reader has got (read-ahead included)."""
        return self._raw.tell() if self._raw is not None else 0

    def index(self, column: str) -> int:
        """Position of a header name; `KeyError` if the file has no such column."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise KeyError(column) from None

    def __iter__(self) -> Iterator[Record]:
        reader = self._csv
        if reader is None:
            raise RuntimeError("use CsvFile as a context manager")
        width = len(self.columns)
        while True:
            # csv's line_num counts lines consumed so far, so after a record
            # with quoted line breaks it points at the record's last line.
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(line, [], _csv_error(exc))
                continue
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from exc
            # Spreadsheets export trailing rows of empty cells (",,,"): they
            # hold nothing, so they count as blank rather than as bad rows.
            if not (fields and fields[0].strip()) and not any(
                field.strip() for field in fields
            ):
                self.blank_lines += 1
                continue
            if len(fields) != width:
                yield Record(line, fields, _width_error(width, len(fields)))
                continue
            # No database column holds a NUL (PostgreSQL refuses it in
            # text); it marks a damaged or binary file, not a value. One
            # look at the whole record; the column is found only on a hit.
            if "\x00" in "".join(fields):
                at = next(at for at, field in enumerate(fields) if "\x00" in field)
                yield Record(line, fields, _nul_error(self.columns[at]))
            else:
                yield Record(line, fields)

    def _check_byte_order_mark(self) -> None:
        """Refuse a file that starts with the byte-order mark of a Unicode
        encoding other than the mapping's: it says which one it is in."""
        assert self._raw is not None
        start = self._raw.peek(4)[:4]
        family = _unicode_family(self.encoding)
        for mark, name, how in _BYTE_ORDER_MARKS:
            if start.startswith(mark):
                if name != family:
                    told = " (--encoding)" if self.named else ""
                    raise CsvFormatError(
                        f"line 1: the file is {name} text: it starts with "
                        f"{name}'s byte-order mark{how}, but it is read as "
                        f"{self.encoding}{told}; {_use_encoding(name, self.named)}"
                    )
                return

    def _text(self) -> io.TextIOWrapper:
        """The file as text: its bytes as they are for a Unicode encoding,
        else through a `_Utf8Watch`, read in blocks of _WATCH_CHUNK."""
        assert self._raw is not None
        # newline="" hands line endings to the csv module, so CRLF files and
        # line breaks inside quoted fields both come out right.
        if self.named or _unicode_family(self.encoding) is not None:
            return io.TextIOWrapper(self._raw, encoding=self.encoding, newline="")
        watched = _Utf8Watch(self._raw, self.encoding)
        buffered = io.BufferedReader(watched, buffer_size=_WATCH_CHUNK)
        text = io.TextIOWrapper(buffered, encoding=self.encoding, newline="")
        # The block the text layer asks for is the block the watch judges.
        text._CHUNK_SIZE = _WATCH_CHUNK  # type: ignore[attr-defined]
        return text

    def _read_header(self) -> tuple[str, ...]:
        assert self._csv is not None
        try:
            header = next(self._csv, None)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from exc
        except csv.Error as exc:
            raise CsvFormatError(f"line 1: cannot read the header: {exc}") from exc
        if not header:
            raise CsvFormatError(f"{self.path.name} is empty; expected a header line")
        columns = tuple(name.replace("\ufeff", "").strip() for name in header)
        named = [name for name in columns if name]
        duplicates = sorted({name for name in named if named.count(name) > 1})
        if duplicates:
            raise CsvFormatError(
                f"line 1: column {duplicates[0]!r} appears more than once in the header"
            )
        return columns

    def _decode_error(self, exc: UnicodeDecodeError) -> CsvFormatError:
        # The text layer decodes ahead in blocks, so the line being parsed is
        # not where the bad byte is; find that line by decoding again.
        line = _first_undecodable_line(self.path, self.encoding)
        if self.named:
            return CsvFormatError(
                f"line {line}: the file is not {self.encoding} text ({exc.reason}), "
                "the encoding --encoding names; name the one it was saved in"
            )
        if self.encoding.lower().startswith("utf"):
            return CsvFormatError(
                f"line {line}: the file is not UTF-8 text ({exc.reason}); save it "
                "as UTF-8 (Excel: 'CSV UTF-8') or set the mapping's encoding"
            )
        # The mapping chose this encoding already: the file was saved in
        # another one, often UTF-8, which the mapping's default reads.
        return CsvFormatError(
            f"line {line}: the file is not {self.encoding} text ({exc.reason}), "
            f"the encoding its mapping sets; it was saved in another: remove the "
            "mapping's encoding if it is UTF-8 (Excel: 'CSV UTF-8'), else set "
            "encoding to the one it was saved in"
        )


# Unicode byte-order marks, each with its encoding's family and how a file
# comes to start with it. UTF-32's come first: UTF-32-LE's starts with
# UTF-16-LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32", ""),
    (codecs.BOM_UTF32_BE, "UTF-32", ""),
    (codecs.BOM_UTF8, "UTF-8", ", as Excel's 'CSV UTF-8' saves it"),
    (codecs.BOM_UTF16_LE, "UTF-16", ", as Excel's 'Unicode Text' saves it"),
    (codecs.BOM_UTF16_BE, "UTF-16", ""),
)


def _unicode_family(encoding: str) -> str | None:
    """The Unicode family of `encoding`, with or without a byte-order mark,
    of either byte order: "UTF-8", "UTF-16" or "UTF-32"; else None."""
    name = codecs.lookup(encoding).name
    for family in ("UTF-8", "UTF-16", "UTF-32"):
        if name.startswith(family.lower()):
            return family
    return None


def _use_encoding(family: str, named: bool = False) -> str:
    """How to read a file saved in `family` rather than as its mapping (or,
    when `named`, the import's --encoding) says."""
    if named:
        return f"import it with --encoding {family.lower()}"
    if family == "UTF-8":
        return "remove encoding from the mapping (UTF-8 is the default)"
    return (
        f'set encoding = "{family.lower()}" in the mapping, or save the file as '
        "UTF-8 (Excel: 'CSV UTF-8') and remove encoding from the mapping"
    )


# The bytes the text layer asks for at a time through a `_Utf8Watch`, and
# so the block it judges a file by.
_WATCH_CHUNK = 64 * 1024


class _Utf8Watch(io.RawIOBase):
    """A file's bytes, watched for UTF-8 text read in an encoding that is
    not Unicode (cp1252, latin-1): such encodings read almost any bytes,
    so a UTF-8 file would be stored as mojibake ("CafÃ©" for "Café").

    The first chunk of the file holding bytes past ASCII decides: when they
    all form whole UTF-8 sequences, the file is UTF-8 and reading it raises
    CsvFormatError naming the line of the first; when any does not, the
    file is in the mapping's encoding and the rest is passed on unwatched.
    Text in cp1252 whose every accented letter in a chunk is followed by
    just the symbols that would make it UTF-8 does not occur in practice.
    ASCII chunks before that cost one `isascii` each.
    """

    def __init__(self, raw: io.BufferedReader, encoding: str) -> None:
        self._raw = raw
        self._encoding = encoding
        utf8 = codecs.getincrementaldecoder("utf-8")
        # None once the file is known not to be UTF-8.
        self._decoder: codecs.IncrementalDecoder | None = utf8()
        self._lines_before = 0  # line breaks in the bytes watched so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if self._decoder is not None and count:
            self._watch(bytes(memoryview(buffer)[:count]))
        return count

    def _watch(self, chunk: bytes) -> None:
        assert self._decoder is not None
        pending = self._decoder.getstate()[0]
        if chunk.isascii() and not pending:
            self._lines_before += chunk.count(b"\n")
            return
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self._decoder = None  # not UTF-8: the mapping's encoding stands
            return
        if text.isascii():  # only the start of a sequence, at the end
            self._lines_before += chunk.count(b"\n")
            return
        at = next((at for at, byte in enumerate(chunk) if byte > 0x7F), 0)
        line = self._lines_before + chunk.count(b"\n", 0, at) + 1
        raise CsvFormatError(self._refusal(line, pending + chunk, len(pending) + at))

    def _refusal(self, line: int, chunk: bytes, at: int) -> str:
        """The error for a file whose UTF-8 starts at `chunk[at]`, on `line`,
        quoting the word around it as it is and as it would be read."""
        word = chunk[_word_start(chunk, at) : _word_end(chunk, at)]
        # The word may be cut mid-sequence at either end by the limits.
        utf8 = word.decode("utf-8", errors="ignore")
        misread = word.decode(self._encoding, errors="replace")
        return (
            f"line {line}: the file looks like UTF-8 text, not {self._encoding} as "
            f"its mapping says: its accented letters are UTF-8's, so "
            f"{quoted(utf8)} would be stored as {quoted(misread)}; "
            f"{_use_encoding('UTF-8')}; or, if it is {self._encoding} text all "
            f"the same, import it with --encoding {self._encoding}"
        )


_WORD_ENDS = frozenset(b' \t\r\n,;|"')


# The most bytes a quoted word reaches on either side of its first UTF-8.
_WORD_REACH = 40


def _word_start(chunk: bytes, at: int) -> int:
    limit = max(0, at - _WORD_REACH)
    while at > limit and chunk[at - 1] not in _WORD_ENDS:
        at -= 1
    return at


def _word_end(chunk: bytes, at: int) -> int:
    limit = min(len(chunk), at + _WORD_REACH)
    while at < limit and chunk[at] not in _WORD_ENDS:
        at += 1
    return at


def text_encoding(name: str) -> str:
    """`name` if it names a codec that turns bytes into text; ValueError
    otherwise ("'base64' is not a known text encoding"): a bytes-to-bytes
    codec (base64, rot13) is known to `codecs` but reads no file."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    # CodecInfo says so only in a private attribute, set by every codec of
    # the standard library that is not a text encoding.
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a known text encoding")
    return name


def _first_undecodable_line(path: Path, encoding: str) -> int:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return number


# The delimiters a header may be written with, tried when a mapping's
# columns are missing from it (`delimiter_hint`).
_USUAL_DELIMITERS = ",;\t|"


def delimiter_hint(
    columns: Sequence[str], missing: Sequence[str], delimiter: str
) -> str:
    """What to add to an error naming the `missing` columns of a header read
    as `columns` with `delimiter`, when the header split by another usual
    delimiter has some of them: "; the header is delimited by ';' ..." that
    names the delimiter found and how to set it; else ""."""
    line = delimiter.join(columns)
    for other in _USUAL_DELIMITERS:
        if other == delimiter or other not in line:
            continue
        names = {name.strip() for name in next(csv.reader([line], delimiter=other))}
        if not any(name in names for name in missing):
            continue
        shown = "a tab" if other == "\t" else repr(other)
        if other == ",":
            remedy = "remove delimiter from the mapping (',' is the default)"
        else:
            written = "\\t" if other == "\t" else other
            remedy = f'set delimiter = "{written}" in the mapping'
        return (
            f"; the header is delimited by {shown}, not by {delimiter!r} as the "
            f"file is read: {remedy}"
        )
    return ""


def _nul_error(column: str) -> str:
    return f"column {column!r} contains a NUL character (the file may be damaged)"


def _csv_error(exc: csv.Error) -> str:
    """The reason a record the csv module refused is bad."""
    if "field larger than field limit" in str(exc):
        return (
            f"a value is longer than {csv.field_size_limit():,} characters, "
            "the most a cell may hold"
        )
    return f"not valid CSV: {exc}"


def _width_error(expected: int, found: int) -> str:
    return f"expected {counted(expected, 'field')} as in the header, found {found:,}"


# -- value parsers ---------------------------------------------------------

# The most of a bad cell an error quotes: a cell of 100,000 digits is known
# by its start, and a report line that repeats it whole is unreadable.
QUOTE_LIMIT = 60


def quoted(text: str) -> str:
    """A cell's text as errors and warnings quote it: in quotes, and cut to
    QUOTE_LIMIT characters with "…" where it was cut."""
    return repr(cut(text, QUOTE_LIMIT))


def requoted(message: str, text: str) -> str:
    """`message`, made by a check that quotes a cell's `text` whole (as repr,
    before or after stripping it: lead capture, custom fields), with that
    quote cut as `quoted` cuts it."""
    stripped = text.strip()
    for whole in (repr(text), repr(stripped)):
        if whole in message:
            return message.replace(whole, quoted(stripped), 1)
    return message


# Human spellings of the usual formats, so errors read "not a date in
# DD/MM/YYYY" rather than quoting a strptime pattern.
DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "YYYY/MM/DD": "%Y/%m/%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
}
DATETIME_FORMATS = {
    "YYYY-MM-DD HH:MM": "%Y-%m-%d %H:%M",
    "YYYY-MM-DD HH:MM:SS": "%Y-%m-%d %H:%M:%S",
    "DD/MM/YYYY HH:MM": "%d/%m/%Y %H:%M",
    "MM/DD/YYYY HH:MM": "%m/%d/%Y %H:%M",
    "DD.MM.YYYY HH:MM": "%d.%m.%Y %H:%M",
}
ISO_8601 = "ISO 8601"
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%z", "%X", "%c")


# An instant every part of which differs from the others and from strptime's
# defaults, so a pattern that loses one is told from one that keeps it.
_SAMPLE = dt.datetime(2026, 11, 23, 15, 47, 38, tzinfo=dt.UTC)


def format_problem(fmt: str) -> str | None:
    """Why `fmt` cannot read dates, or None: a named format and ISO 8601 can;
    a strptime pattern can when the text it writes for a sample instant
    reads back with the same day, month and year."""
    if fmt in DATE_FORMATS or fmt in DATETIME_FORMATS or fmt == ISO_8601:
        return None
    if "%" not in fmt:
        known = ", ".join([*DATE_FORMATS, *DATETIME_FORMATS, ISO_8601])
        return (
            f"{quoted(fmt)} is not a known date format; use one of {known} "
            "or a strptime pattern such as %d-%b-%Y"
        )
    try:
        back = dt.datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError as exc:
        return f"{quoted(fmt)} is not a usable strptime pattern: {exc}"
    if back.date() != _SAMPLE.date():
        return (
            f"{quoted(fmt)} does not hold a whole date: it writes "
            f"{_SAMPLE:%d %B %Y} as {quoted(_SAMPLE.strftime(fmt))}"
        )
    return None


class _Memo(Generic[T]):
    """A parse cache keyed by the raw text, emptied when it grows too big."""

    def __init__(self) -> None:
        self.values: dict[str, T] = {}

    def put(self, text: str, value: T) -> T:
        if len(self.values) >= _CACHE_LIMIT:
            self.values.clear()
        self.values[text] = value
        return value


# The years a date in a file may fall in (see `_in_years`), as at every door.
FIRST_YEAR, LAST_YEAR = dates.FIRST_YEAR, dates.LAST_YEAR


class DateParser:
    """Parse calendar dates written in one format.

    `fmt` is a name from DATE_FORMATS (for example "YYYY-MM-DD") or a
    strptime pattern. Returns a `date`, or None for an empty or blank field.
    """

    def __init__(self, fmt: str = "YYYY-MM-DD") -> None:
        if fmt in DATETIME_FORMATS or fmt == ISO_8601:
            raise ValueError(f"{quoted(fmt)} is not a date format")
        problem = format_problem(fmt)
        if problem is not None:
            raise ValueError(problem)
        self.label = fmt
        self._pattern = DATE_FORMATS.get(fmt, fmt)
        self._iso = self._pattern == "%Y-%m-%d"
        self._memo: _Memo[dt.date] = _Memo()

    def __call__(self, column: str, text: str) -> dt.date | None:
        value = self._memo.values.get(text)
        if value is not None:
            return value
        text = text.strip()
        if not text:
            return None
        return self._memo.put(text, self._parse(column, text))

    def _parse(self, column: str, written: str) -> dt.date:
        text = ascii_digits(written)
        try:
            # fromisoformat is 30 times faster than strptime but also takes
            # "20170301" and week dates, hence the shape check first.
            if self._iso and len(text) == 10 and text[4] == text[7] == "-":
                day = dt.date.fromisoformat(text)
            else:
                day = dt.datetime.strptime(text, self._pattern).date()
        except ValueError:
            raise CellError(
                column, f"{quoted(written)} is not a date in {self.label}"
            ) from None
        return _in_years(column, written, day)


class DateTimeParser:
    """Parse instants, returning aware datetimes in UTC.

    `fmt` is a date format (the value becomes midnight in `zone`), a
    datetime format from DATETIME_FORMATS, "ISO 8601" (an offset in the value
    wins; without one the value is read in `zone`), or a strptime pattern.
    Returns None for an empty or blank field. A wall time that a daylight
    saving change skips or repeats resolves as zoneinfo does (fold=0).
    """

    def __init__(self, fmt: str = "YYYY-MM-DD", zone: str = "UTC") -> None:
        problem = format_problem(fmt)
        if problem is not None:
            raise ValueError(problem)
        self.label = fmt
        self.zone = ZoneInfo(zone)
        self._dates = DateParser(fmt) if fmt in DATE_FORMATS else None
        if self._dates is None and "%" in fmt and not _has_time(fmt):
            self._dates = DateParser(fmt)
        self._pattern = DATETIME_FORMATS.get(fmt, fmt)
        self._memo: _Memo[dt.datetime] = _Memo()

    def __call__(self, column: str, text: str) -> dt.datetime | None:
        value = self._memo.values.get(text)
        if value is not None:
            return value
        if not text.strip():
            return None
        return self._memo.put(text, self._parse(column, text.strip()))

    def _parse(self, column: str, written: str) -> dt.datetime:
        if self._dates is not None:
            day = self._dates(column, written)
            assert day is not None
            local = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
            return local.astimezone(dt.UTC)
        text = ascii_digits(written)
        try:
            if self.label == ISO_8601:
                value = dt.datetime.fromisoformat(text)
            else:
                value = dt.datetime.strptime(text, self._pattern)
        except ValueError:
            raise CellError(
                column, f"{quoted(written)} is not a date in {self.label}"
            ) from None
        _in_years(column, written, value.date())
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(dt.UTC)


class _DigitValues(dict[int, int]):
    """A `str.translate` table that writes every decimal digit (Unicode
    category Nd: Arabic-Indic "٢", full-width "２") as its ASCII digit and
    leaves any other character as it is; filled as characters are met."""

    def __missing__(self, code: int) -> int:
        digit = unicodedata.decimal(chr(code), None)
        value = code if digit is None else ord("0") + digit
        self[code] = value
        return value


_DIGIT_VALUES = _DigitValues()


def ascii_digits(text: str) -> str:
    """`text` with its decimal digits in any script written 0-9, so that a
    date reads as its amount would (int and Decimal take any script's
    digits): strptime took Arabic-Indic digits only in some places, and
    fromisoformat none at all."""
    return text if text.isascii() else text.translate(_DIGIT_VALUES)


def _in_years(column: str, text: str, day: dt.date) -> dt.date:
    """`day`, unless it lies outside FIRST_YEAR to LAST_YEAR: exporters write
    0001-01-01 or 1900-01-01 for "no date", and dates near the ends of the
    calendar cannot be moved between time zones or measured in business
    time."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CellError(
            column,
            f"{quoted(text)} is outside the years {FIRST_YEAR}-{LAST_YEAR}; leave the "
            "cell empty for no date",
        )
    return day


def _has_time(pattern: str) -> bool:
    return any(directive in pattern for directive in _TIME_DIRECTIVES)


_PLAIN_AMOUNT = re.compile(r"\d+(?:\.\d+)?")
_CURRENCY_SIGNS = "$€£¥₹₽₩₺₫₪"
# What a number with separators in the wrong places is made of; anything
# else in a cell ("1e308", "12 apples") makes it no number at all.
_DIGITS_AND_SEPARATORS = re.compile(r"[\d.,' \u00a0\u202f]+")
_EXPONENT = re.compile(r"\d+(?:[.,]\d+)?[eE][+-]?\d+")


class DecimalParser:
    """Parse non-negative amounts such as 1054 or 1054.50.

    No currency symbols or codes. Thousands separators are refused unless
    `thousands` names the one the file uses, and then every group must have
    three digits ("1,200" yes, "12,00" no). `decimal_point` may be "," for
    European files. At most `places` decimals and `digits` digits in all, as
    the column stores; `largest`, the largest value the column holds, is
    named when a value has too many digits before the decimal point (by
    default the largest of `digits` with `places` decimals). Returns None
    for an empty or blank field.
    """

    def __init__(
        self,
        *,
        thousands: str | None = None,
        decimal_point: str = ".",
        places: int = 2,
        digits: int = 14,
        largest: Decimal | None = None,
    ) -> None:
        if thousands is not None and thousands == decimal_point:
            raise ValueError("the thousands separator and decimal point must differ")
        self.thousands = thousands
        self.decimal_point = decimal_point
        self.places = places
        self.digits = digits
        whole = digits - places
        if largest is None:
            largest = Decimal(10**whole) - Decimal(1).scaleb(-places)
        self._largest = _as_the_file_writes(largest, thousands, decimal_point)
        if thousands:
            sep = re.escape(thousands)
            point = re.escape(decimal_point)
            self._grouped = re.compile(rf"\d{{1,3}}(?:{sep}\d{{3}})*(?:{point}\d+)?")
        else:
            self._grouped = None
        self._memo: _Memo[Decimal] = _Memo()

    def __call__(self, column: str, text: str) -> Decimal | None:
        value = self._memo.values.get(text)
        if value is not None:
            return value
        stripped = text.strip()
        if not stripped:
            return None
        if stripped[0] in "-(":
            return self._memo.put(text, self._signed(column, stripped))
        return self._memo.put(text, self._parse(column, stripped, stripped))

    def _signed(self, column: str, text: str) -> Decimal:
        unsigned = _unsigned(text)
        if unsigned is None:
            return self._parse(column, text, text)
        number = self._parse(column, unsigned, text)
        if number:
            raise CellError(
                column, f"{quoted(text)} is negative; amounts must be zero or more"
            )
        # Spreadsheets write a zero as "-0" or "(0.00)" after rounding a
        # small negative; it is zero all the same.
        return number

    def _parse(self, column: str, text: str, written: str) -> Decimal:
        """The amount `text` holds; errors quote the cell as `written`."""
        plain = self._to_plain(column, text, written)
        whole, _, fraction = plain.partition(".")
        if len(fraction) > self.places:
            raise CellError(
                column, f"{quoted(written)} has more than {self.places} decimal places"
            )
        if len(whole.lstrip("0")) > self.digits - self.places:
            raise CellError(
                column,
                too_large(
                    quoted(written),
                    largest=self._largest,
                    whole=self.digits - self.places,
                ),
            )
        return Decimal(plain)

    def _to_plain(self, column: str, text: str, written: str) -> str:
        if self._grouped is not None and self._grouped.fullmatch(text):
            text = text.replace(self.thousands or "", "")
        elif (
            self.decimal_point != "."
            and self.thousands != "."
            and "." in text
            and _DIGITS_AND_SEPARATORS.fullmatch(text)
        ):
            raise CellError(
                column,
                f"{quoted(written)} uses '.', but the decimal point is set to ','",
            )
        plain = text.replace(self.decimal_point, ".")
        if _PLAIN_AMOUNT.fullmatch(plain):
            return plain
        raise CellError(column, self._explain(text, written))

    def _explain(self, text: str, written: str) -> str:
        shown = quoted(written)
        if _unsigned(text) is not None:
            return f"{shown} is not a number"
        has_digits = any(ch.isdigit() for ch in text)
        if any(sign in text for sign in _CURRENCY_SIGNS) or (
            has_digits and re.search(r"[A-Za-z]{3}", text)
        ):
            return f"{shown} is not a plain amount: leave out the currency"
        if _EXPONENT.fullmatch(text):
            return f"{shown} is not a number: exponents are not read; write the digits"
        if not _DIGITS_AND_SEPARATORS.fullmatch(text):
            return f"{shown} is not a number"
        if self.thousands and has_digits:
            return (
                f"{shown} is not an amount with {self.thousands!r} between "
                "groups of three digits"
            )
        separator = next((c for c in ",. '\u00a0" if c in text), None)
        if separator and separator != self.decimal_point:
            return (
                f"{shown} has a thousands separator {separator!r}; remove it or "
                "set thousands_separator in the mapping"
            )
        return f"{shown} is not a number"


def _as_the_file_writes(
    number: Decimal, thousands: str | None, decimal_point: str
) -> str:
    """`number` with the file's separators: "999.999.999.999,99"."""
    whole, _, fraction = format(number, "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", thousands or "")
    return f"{grouped}{decimal_point}{fraction}" if fraction else grouped


def _unsigned(text: str) -> str | None:
    """The amount inside a negative one ("-5", "(5)"), or None if `text`
    has no sign."""
    if text.startswith("-"):
        return text[1:].strip()
    if text.startswith("(") and text.endswith(")"):
        return text[1:-1].strip()
    return None


def parse_int(column: str, text: str, *, minimum: int = 0) -> int | None:
    """Parse a whole number of at least `minimum`; None for an empty field."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        # Python refuses to read an int of thousands of digits.
        reason = "is too large" if text.isdecimal() else "is not a whole number"
        raise CellError(column, f"{quoted(text)} {reason}") from None
    if value < minimum:
        raise CellError(column, f"{quoted(text)} is below {minimum}")
    return value


class ChoiceParser(Generic[T]):
    """Map a field's text to one of a fixed set of values.

    Tries the exact text, then the text ignoring case and surrounding spaces.
    An empty field gives None; anything else unknown raises `CellError`
    listing the accepted spellings (or `accepted`, when given).
    """

    def __init__(
        self, choices: Mapping[str, T], *, accepted: str | None = None
    ) -> None:
        self.choices = dict(choices)
        self._folded = {key.strip().casefold(): value for key, value in choices.items()}
        self._accepted = accepted or ", ".join(sorted(self.choices)) or "nothing"

    def __call__(self, column: str, text: str) -> T | None:
        value = self.choices.get(text)
        if value is not None:
            return value
        text = text.strip()
        if not text:
            return None
        value = self._folded.get(text.casefold())
        if value is None:
            raise CellError(column, f"{quoted(text)} is not one of {self._accepted}")
        return value


# -- matching names --------------------------------------------------------


def spelling_key(text: str) -> str:
    """A name's `names.name_key` reduced to its letters and digits: "GTXPro",
    "GTX Pro", "gtx-pro" and "ＧＴＸ Pro" share one key, as do all the
    spellings the deal page takes as one name."""
    return _letters(name_key(text))


def matched_how(text: str, known: str) -> str:
    """How `text` found the `known` name it is not: "ignoring case and
    spacing" when the deal page's name key joins them, else "by spelling"
    (its punctuation differs too), for the import's warnings."""
    if name_key(text) == name_key(known):
        return "ignoring case and spacing"
    return "by spelling"


def _letters(key: str) -> str:
    return "".join(ch for ch in key if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    value: T
    # The known name when the text matched only by its key, else None.
    spelled_as: str | None = None


class NameMatcher(Generic[T]):
    """Find known names in free text: exactly, else by `names.name_key` (the
    rule the deal page finds an organization by: spacing, case and invisible
    characters aside), and only then by the looser `spelling_key`, which
    ignores punctuation too. So a text is never refused where the page's
    rule finds one name: "kappa co" finds "Kappa Co" although "Kappa-Co"
    shares its spelling.

    A match by either key is returned with the known name so that the
    caller can report it. Two different values under one name, or under one
    key, make it ambiguous: it matches nothing, and `candidates` names them;
    with `first_of_key`, the first value added under a name key is found
    instead, as the deal page takes the first organization made. A name
    with nothing visible in it is neither known nor found. Lookups are
    memoised, so repeated values cost one dictionary read.
    """

    def __init__(self, *, first_of_key: bool = False) -> None:
        self._first_of_key = first_of_key
        # None marks a name or key shared by several values.
        self._exact: dict[str, Match[T] | None] = {}
        self._by_key: dict[str, tuple[str, T] | None] = {}
        self._by_spelling: dict[str, tuple[str, T] | None] = {}
        # (index, name or key) -> the (name, value) pairs sharing it, for the
        # entries above that are None; index 0 is _exact, 1 _by_key, 2
        # _by_spelling.
        self._shared: dict[tuple[int, str], list[tuple[str, T]]] = {}
        # Texts found to match nothing, until a name is added.
        self._missed: set[str] = set()

    def add(self, name: str, value: T) -> None:
        name = name.strip()
        key = name_key(name)
        if not key:
            return
        self._missed.clear()
        known = self._exact.get(name, _ABSENT)
        if known is _ABSENT or (known is not None and known.value == value):
            self._exact[name] = Match(value)
        else:
            self._exact[name] = None
            first = None if known is None else (name, known.value)
            self._share((0, name), first, name, value)
        self._file(1, key, name, value, keep_first=self._first_of_key)
        self._file(2, _letters(key), name, value, keep_first=False)

    def _file(
        self, index: int, key: str, name: str, value: T, *, keep_first: bool
    ) -> None:
        """File `value`, known as `name`, under `key` of the index numbered
        `index`: a second value under the key is ignored with `keep_first`,
        else it makes the key ambiguous."""
        entries = self._by_key if index == 1 else self._by_spelling
        known = entries.get(key, _ABSENT)
        if known is _ABSENT or (known is not None and known[1] == value):
            entries[key] = (name, value)
        elif not keep_first:
            entries[key] = None
            self._share((index, key), known, name, value)

    def _share(
        self,
        where: tuple[int, str],
        first: tuple[str, T] | None,
        name: str,
        value: T,
    ) -> None:
        """Note that `value`, known as `name`, shares `where`; `first` is the
        pair that had it alone until now, None if it was shared already."""
        shared = self._shared.setdefault(where, [])
        if first is not None:
            shared.append(first)
        if all(known != value for _, known in shared):
            shared.append((name, value))

    def find(self, text: str) -> Match[T] | None:
        """The match for `text`, or None when nothing (or several) match."""
        found = self._exact.get(text)
        if found is not None or text in self._missed:
            return found
        stripped = text.strip()
        if stripped in self._exact:
            return self._exact[stripped]
        key = name_key(stripped)
        known = self._by_key.get(key, _ABSENT) if key else None
        if known is _ABSENT:
            known = self._by_spelling.get(_letters(key))
        if known is None:
            if len(self._missed) < _CACHE_LIMIT:
                self._missed.add(text)
            return None
        found = Match(known[1], known[0])
        if len(self._exact) < 4 * _CACHE_LIMIT:
            self._exact[text] = found
        return found

    def ambiguous(self, text: str) -> bool:
        """True when several known values share the name or key of `text`."""
        return bool(self.candidates(text))

    def candidates(self, text: str) -> list[tuple[str, T]]:
        """The (known name, value) pairs that share the name or key of
        `text`, in the order they were added, when several do; else []."""
        text = text.strip()
        if text in self._exact:
            return [] if self._exact[text] else self._shared[(0, text)]
        key = name_key(text)
        if key in self._by_key:
            return [] if self._by_key[key] else self._shared[(1, key)]
        spelling = _letters(key)
        if spelling in self._by_spelling and self._by_spelling[spelling] is None:
            return self._shared[(2, spelling)]
        return []


_ABSENT: Any = object()
