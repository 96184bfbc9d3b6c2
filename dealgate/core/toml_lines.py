"""Where each key of a TOML text sits, for error messages that name a line.

The standard `tomllib` returns plain values without positions. `KeyLines`
scans the same text once more and remembers the line on which every key,
table header and array item starts, addressed by its path in the parsed data:
`("stages", 2, "age_limit_days")` is the key written under the third
`[[stages]]` header.

The scanner trusts the text to be valid TOML (parse it with `tomllib` first);
it follows strings, comments, arrays and inline tables only far enough to
count lines and keep its place.
"""

from __future__ import annotations

import bisect
import re
import tomllib

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POSITION = re.compile(
    r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$"
)


def format_path(path: Path) -> str:
    """Render a path as a reader writes it: `stages[2].exit_criteria[0].rule`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else quote_string(part)
        out += f".{name}" if out else name
    return out


def quote_string(text: str) -> str:
    """A TOML basic string (double quotes) holding exactly `text`."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def syntax_error_position(error: tomllib.TOMLDecodeError, text: str) -> tuple[int, str]:
    """The line of a `tomllib` syntax error and its message without the position.

    Python 3.11's error has no line attribute; the position is only written at
    the end of the message ("(at line 3, column 5)" or "(at end of document)").
    """
    message = str(error)
    match = _SYNTAX_POSITION.search(message)
    if match is None:
        return 1, message
    reason = message[: match.start()]
    if match.group(1) is None:
        return max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), reason
    line = int(match.group(1))
    if reason == "Cannot overwrite a value":
        said = _set_twice(text, line)
        if said is not None:
            return line, said
    declared = _DECLARED_TWICE.fullmatch(reason)
    if declared is not None:
        return line, f"table [{_header_at(text, line)}] is declared twice"
    return line, f"{reason} (column {match.group(2)})"


_DECLARED_TWICE = re.compile(r"Cannot declare \(.*\) twice")
_HEADER = re.compile(r"\s*(\[\[?)\s*(.*?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNED = re.compile(
    r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*"
    r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _header_at(text: str, line: int) -> str:
    found = _HEADER.match(text.splitlines()[line - 1])
    return found.group(2) if found else "?"


def _set_twice(text: str, line: int) -> str | None:
    """What tomllib's "Cannot overwrite a value" at `line` means, naming the
    key set twice, its table and the line that set it first; None when the
    line is not read. Lines are read one by one: a key inside a multi-line
    string may be taken for one, so the earlier line is only a guide."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    written = lines[line - 1]
    header = _HEADER.match(written)
    if header is not None:
        return (
            f"[{header.group(2)}] names a key that already holds a value, so it "
            "cannot start a table"
        )
    assigned = _ASSIGNED.match(written)
    if assigned is None:
        return None
    key = re.sub(r"\s*\.\s*", ".", assigned.group(1))
    table, first = "", None
    for number in range(line - 1, 0, -1):
        earlier = lines[number - 1]
        header = _HEADER.match(earlier)
        if header is not None:
            brackets = header.group(1)
            table = f"{brackets}{header.group(2)}{']' * len(brackets)}"
            break
        other = _ASSIGNED.match(earlier)
        if first is None and other and re.sub(r"\s*\.\s*", ".", other.group(1)) == key:
            first = number
    where = f"in table {table}" if table else "at the top of the file"
    shown = key if key[:1] in "\"'" else f'"{key}"'
    said = f"key {shown} is set twice {where}"
    if first is not None:
        said += f" (first at line {first})"
    return said + "; a key is set once per table"


class KeyLines:
    """Line numbers (1-based) of the keys in a valid TOML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        _Scanner(text, self._lines).run()

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest written parent; 1 if none is.

        A missing key is thus reported where its table starts, which is where
        the reader has to add it.
        """
        for end in range(len(path), 0, -1):
            line = self._lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def __contains__(self, path: Path) -> bool:
        return tuple(path) in self._lines


class _Scanner:
    def __init__(self, text: str, lines: dict[Path, int]) -> None:
        self.text = text
        self.pos = 0
        self.lines = lines
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        # How many [[x]] headers each array-of-tables path has had so far.
        self.table_arrays: dict[Path, int] = {}

    def run(self) -> None:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text.startswith("[[", self.pos):
                table = self.header(array=True)
            elif self.text[self.pos] == "[":
                table = self.header(array=False)
            else:
                self.key_value(table)

    def line(self) -> int:
        return bisect.bisect_right(self.line_starts, self.pos)

    def record(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def skip_blank(self, *, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def header(self, *, array: bool) -> Path:
        line = self.line()
        self.pos += 2 if array else 1
        keys = self.key()
        self.skip_blank(newlines=False)
        self.pos += 2 if array else 1
        path: Path = ()
        for i, name in enumerate(keys):
            path += (name,)
            if array and i == len(keys) - 1:
                count = self.table_arrays.get(path, 0)
                self.table_arrays[path] = count + 1
                self.record(path, line)
                path += (count,)
            elif path in self.table_arrays:
                # [a.b] under [[a]] belongs to the latest item of a.
                path += (self.table_arrays[path] - 1,)
            self.record(path, line)
        return path

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_blank(newlines=False)
            char = self.text[self.pos]
            if char in "\"'":
                start = self.pos
                self.skip_string()
                raw = self.text[start : self.pos]
                parts.append(tomllib.loads(f"k = {raw}")["k"])
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                end = match.end() if match else self.pos + 1
                parts.append(self.text[self.pos : end])
                self.pos = end
            self.skip_blank(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            return parts

    def key_value(self, table: Path) -> None:
        line = self.line()
        path = table
        for name in self.key():
            path += (name,)
            self.record(path, line)
        self.pos += 1  # the "="
        self.skip_blank(newlines=False)
        self.value(path)

    def value(self, path: Path) -> None:
        self.record(path, self.line())
        char = self.text[self.pos]
        if char in "\"'":
            self.skip_string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}#\r\n":
                self.pos += 1

    def array(self, path: Path) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.text[self.pos] == "]":
                self.pos += 1
                return
            self.value(path + (index,))
            index += 1
            self.skip_blank(newlines=True)
            if self.text[self.pos] == ",":
                self.pos += 1

    def inline_table(self, path: Path) -> None:
        self.pos += 1
        while True:
            self.skip_blank(newlines=True)
            if self.text[self.pos] == "}":
                self.pos += 1
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.text[self.pos] == ",":
                self.pos += 1

    def skip_string(self) -> None:
        text = self.text
        quote = text[self.pos]
        if text.startswith(quote * 3, self.pos):
            self.pos += 3
            while not text.startswith(quote * 3, self.pos):
                self.pos += 2 if quote == '"' and text[self.pos] == "\\" else 1
            self.pos += 3
            # Up to two quotes right before the closing three belong to the text.
            for _ in range(2):
                if self.pos < len(text) and text[self.pos] == quote:
                    self.pos += 1
            return
        self.pos += 1
        while text[self.pos] != quote:
            self.pos += 2 if quote == '"' and text[self.pos] == "\\" else 1
        self.pos += 1
