"""Import mappings: which column of a file feeds which field of a deal.

A mapping is either built in, named (`maven-crm`), or a TOML file; both go
through `mapping_from_dict`, so a built-in mapping is also an example of the
file format (docs/import-mapping.md). Checks that need a pipeline (do the
stage keys exist?) happen when an import starts, not here.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dealgate.core.csvsource import format_problem, text_encoding
from dealgate.core.currencies import iso_currency
from dealgate.core.text import check_text
from dealgate.errors import ValidationError

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
MAVEN_DEMO_DIR = Path(__file__).resolve().parents[1] / "demo" / "data" / "maven-crm"

STATUSES = ("open", "won", "lost")

# Deal fields a column can feed, with what each means; the docs repeat these.
DEAL_FIELDS = {
    "title": "the deal's name (or give title templates)",
    "external_id": "the deal's id in the source system; makes re-imports skip it",
    "organization": "the buyer's organization, by name",
    "product": "a product, by name",
    "owner": "the rep who owns the deal: username, full name or email",
    "value": "the amount, without currency symbol",
    "currency": "a three-letter code; else the mapping's or pipeline's currency",
    "status": "open, won or lost (or values mapped under [statuses])",
    "stage": "a stage key or name (or values mapped under [stages])",
    "created_at": "when the deal was created",
    "stage_entered_at": "when the deal entered its stage (the one it closed from)",
    "close_date": "when a won or lost deal closed; on an open deal, the expected "
    "close date",
    "expected_close_date": "when an open deal is expected to close",
    "loss_reason": "why a lost deal was lost",
    "loss_note": "what happened, in words, on a lost deal; a reason with "
    "needs_note asks for it",
    "notes": "free text; line breaks are kept",
}
# What a title template may name: the resolved values of these fields.
TEMPLATE_FIELDS = ("external_id", "organization", "product", "owner", "stage")

SIDE_FIELDS = {
    "organizations": (
        "name",
        "sector",
        "year_established",
        "revenue_musd",
        "employees",
        "location",
        "parent",
    ),
    "products": ("name", "series", "list_price"),
    "people": ("name", "manager", "team", "email"),
}

_TOP_KEYS = {
    "name",
    "description",
    "source",
    "file",
    "encoding",
    "delimiter",
    "date_format",
    "default_stage",
    "currency",
    "title",
    "loss_reason",
    "zero_value_on_lost",
    "thousands_separator",
    "decimal_point",
    "columns",
    "stages",
    "statuses",
    "custom",
    "custom_from_header",
    "formula_apostrophes",
    *SIDE_FIELDS,
}


class MappingError(ValidationError):
    code = "invalid_mapping"


@dataclass(frozen=True)
class StageValue:
    """What one value of the stage column means: a stage key, a status, or both."""

    stage: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class SideFile:
    """A CSV beside the deals file describing organizations, products or people.

    `file` is relative to the deals file's folder; `columns` maps the side
    file's fields (SIDE_FIELDS) to its column names.
    """

    file: str
    columns: dict[str, str]


@dataclass(frozen=True)
class Mapping:
    name: str
    source: str
    columns: dict[str, str]
    description: str = ""
    file: str | None = None
    encoding: str = "utf-8-sig"
    # True when `encoding` is the import's --encoding, named for one file
    # and taken as the user's word (`csvsource.CsvFile`'s `named`).
    encoding_named: bool = False
    delimiter: str = ","
    date_format: str = "YYYY-MM-DD"
    title_templates: tuple[str, ...] = ()
    stage_values: dict[str, StageValue] = field(default_factory=dict)
    status_values: dict[str, str] = field(default_factory=dict)
    default_stage: str | None = None
    currency: str | None = None
    loss_reason: str | None = None
    zero_value_on_lost: str = "keep"
    thousands_separator: str | None = None
    decimal_point: str = "."
    custom: dict[str, str] = field(default_factory=dict)
    # Every column named by a custom field's key (or "custom.KEY") feeds
    # that field, as `dealgate export deals` names them (`with_header_custom`).
    custom_from_header: bool = False
    # "remove": a text cell's apostrophe before a formula character, as
    # `dealgate export` writes one, is taken off (core.csvcells.reverted).
    formula_apostrophes: str = "keep"
    create_organizations: bool = True
    create_products: bool = False
    organizations: SideFile | None = None
    products: SideFile | None = None
    people: SideFile | None = None

    def side_files(self) -> dict[str, SideFile]:
        found = {
            "organizations": self.organizations,
            "products": self.products,
            "people": self.people,
        }
        return {kind: side for kind, side in found.items() if side is not None}


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.toml"))


def get_mapping(name_or_path: str | os.PathLike[str]) -> Mapping:
    """A built-in mapping by name, or a mapping read from a TOML file."""
    text = str(name_or_path)
    builtin = BUILTIN_DIR / f"{text}.toml"
    if "/" not in text and builtin.is_file():
        return load_mapping(builtin)
    path = Path(text)
    if path.is_file():
        return load_mapping(path)
    raise MappingError(
        f"unknown mapping {text!r}: give a built-in name "
        f"({', '.join(builtin_names())}) or a .toml mapping file",
        field="mapping",
    )


def load_mapping(path: Path) -> Mapping:
    """Read and check a TOML mapping file; errors name the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping {path.name} is not valid TOML: {exc}") from exc
    return mapping_from_dict(data, name=data.get("name") or path.stem)


def mapping_from_dict(data: dict[str, Any], *, name: str) -> Mapping:
    """Build a mapping from parsed TOML, refusing unknown keys and values."""
    check = _Checker(name)
    check.keys("", data, _TOP_KEYS)
    columns = check.table("columns", data.get("columns", {}), DEAL_FIELDS)
    templates = check.templates(data.get("title", ()))
    if "title" not in columns and not templates:
        check.fail("title", "give a title column under [columns] or title templates")
    sides = {kind: check.side(kind, data[kind]) for kind in SIDE_FIELDS if kind in data}
    date_format = check.string("date_format", data.get("date_format", "YYYY-MM-DD"))
    problem = format_problem(date_format)
    if problem is not None:
        check.fail("date_format", problem)
    encoding = check.string("encoding", data.get("encoding", "utf-8-sig"))
    try:
        text_encoding(encoding)
    except ValueError as exc:
        check.fail("encoding", str(exc))
    delimiter = check.string("delimiter", data.get("delimiter", ","), limit=1)
    if len(delimiter) != 1:
        check.fail("delimiter", "must be one character")
    decimal_point = check.choice(
        "decimal_point", data.get("decimal_point", "."), (".", ",")
    )
    thousands = check.optional("thousands_separator", data, limit=1)
    if thousands == decimal_point:
        check.fail("thousands_separator", "must differ from the decimal point")
    return Mapping(
        name=name,
        source=check.line("source", data.get("source", name), limit=50),
        columns=columns,
        description=check.string("description", data.get("description", "")),
        file=check.optional("file", data),
        encoding=encoding,
        delimiter=delimiter,
        date_format=date_format,
        title_templates=templates,
        stage_values=check.stage_values(data.get("stages", {})),
        status_values=check.status_values(data.get("statuses", {})),
        default_stage=check.optional("default_stage", data),
        currency=check.currency(data.get("currency")),
        loss_reason=check.optional_line("loss_reason", data, limit=100),
        zero_value_on_lost=check.choice(
            "zero_value_on_lost",
            data.get("zero_value_on_lost", "keep"),
            ("keep", "empty"),
        ),
        thousands_separator=thousands,
        decimal_point=decimal_point,
        custom=check.table("custom", data.get("custom", {}), None),
        custom_from_header=check.flag("custom_from_header", data, False),
        formula_apostrophes=check.choice(
            "formula_apostrophes",
            data.get("formula_apostrophes", "keep"),
            ("keep", "remove"),
        ),
        create_organizations=check.create_missing(data, "organizations", True),
        create_products=check.create_missing(data, "products", False),
        **sides,
    )


class _Checker:
    """Validation helpers that raise MappingError naming the mapping and key."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, key: str, message: str) -> None:
        raise MappingError(f"mapping {self.name}: {key}: {message}", field=key)

    def keys(self, where: str, data: dict[str, Any], allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail(f"{where}{key}", f"unknown key; known keys: {known}")

    def string(self, key: str, value: Any, *, limit: int | None = None) -> str:
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {value!r}")
        if limit is not None and len(value) > limit:
            self.fail(key, f"must be at most {limit} characters")
        return value

    def optional(
        self, key: str, data: dict[str, Any], *, limit: int | None = None
    ) -> str | None:
        value = data.get(key)
        return None if value is None else self.string(key, value, limit=limit)

    def line(self, key: str, value: Any, *, limit: int) -> str:
        """A string each imported deal stores: one line, no control
        characters, at most `limit` characters, as a person's edit."""
        text = self.string(key, value)
        try:
            check_text(text, key, limit=limit, one_line=True)
        except ValidationError as exc:
            self.fail(key, exc.message.removeprefix(f"{key} "))
        return text

    def optional_line(
        self, key: str, data: dict[str, Any], *, limit: int
    ) -> str | None:
        value = data.get(key)
        return None if value is None else self.line(key, value, limit=limit)

    def choice(self, key: str, value: Any, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def table(
        self, key: str, value: Any, allowed: dict[str, str] | None
    ) -> dict[str, str]:
        if not isinstance(value, dict):
            self.fail(key, "must be a table of names to column names")
        for name, column in value.items():
            if allowed is not None and name not in allowed:
                known = ", ".join(allowed)
                self.fail(f"{key}.{name}", f"not a deal field; known: {known}")
            self.string(f"{key}.{name}", column)
        return dict(value)

    def templates(self, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            self.fail("title", "must be a template string or a list of them")
        for template in items:
            self.string("title", template)
            for _, name, _, _ in string.Formatter().parse(template):
                if name is not None and name not in TEMPLATE_FIELDS:
                    self.fail(
                        "title",
                        f"{{{name}}} is not a template field; "
                        f"use {', '.join(TEMPLATE_FIELDS)}",
                    )
        return tuple(items)

    def stage_values(self, value: Any) -> dict[str, StageValue]:
        result = {}
        for raw, meaning in self.table_of("stages", value).items():
            if isinstance(meaning, str):
                result[raw] = StageValue(stage=meaning)
                continue
            if not isinstance(meaning, dict):
                self.fail(f"stages.{raw}", "must be a stage key or a table")
            self.keys(f"stages.{raw}.", meaning, {"stage", "status"})
            status = meaning.get("status")
            if status is not None:
                self.choice(f"stages.{raw}.status", status, STATUSES)
            result[raw] = StageValue(stage=meaning.get("stage"), status=status)
        return result

    def status_values(self, value: Any) -> dict[str, str]:
        result = {}
        for raw, status in self.table_of("statuses", value).items():
            result[raw] = self.choice(f"statuses.{raw}", status, STATUSES)
        return result

    def table_of(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return value

    def currency(self, value: Any) -> str | None:
        if value is None:
            return None
        code = iso_currency(value) if isinstance(value, str) else None
        if code is None:
            self.fail("currency", f"must be an ISO 4217 currency code, not {value!r}")
        return code

    def side(self, kind: str, value: Any) -> SideFile | None:
        table = self.table_of(kind, value)
        # People are never created from a deals file, only from a side file.
        allowed = {"file", "columns"} | (
            {"create_missing"} if kind != "people" else set()
        )
        self.keys(f"{kind}.", table, allowed)
        if "file" not in table:
            return None
        columns = self.table(f"{kind}.columns", table.get("columns", {}), None)
        for name in columns:
            if name not in SIDE_FIELDS[kind]:
                known = ", ".join(SIDE_FIELDS[kind])
                self.fail(f"{kind}.columns.{name}", f"unknown field; known: {known}")
        if "name" not in columns:
            self.fail(f"{kind}.columns", "must name the column holding the name")
        return SideFile(
            file=self.string(f"{kind}.file", table["file"]), columns=columns
        )

    def flag(self, key: str, data: dict[str, Any], default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def create_missing(self, data: dict[str, Any], kind: str, default: bool) -> bool:
        value = data.get(kind, {}).get("create_missing", default)
        if not isinstance(value, bool):
            self.fail(f"{kind}.create_missing", "must be true or false")
        return value


def with_header_custom(
    mapping: Mapping, columns: Sequence[str], declared: Iterable[str]
) -> Mapping:
    """`mapping` reading, besides its own [custom], each column of the
    header named by a `declared` custom field's key, or by "custom.KEY" (how
    an export names a key that is also a deal column's), when it asks for
    that (`custom_from_header`); as it is otherwise."""
    if not mapping.custom_from_header:
        return mapping
    found = dict(mapping.custom)
    # A column the mapping reads for a deal field is that field's.
    taken = {*mapping.columns.values(), *found.values()}
    for key in declared:
        for column in (key, f"custom.{key}"):
            if column in columns and column not in taken and key not in found:
                found[key] = column
    return replace(mapping, custom=found)
