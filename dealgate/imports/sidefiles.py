"""Organizations, products and people: what deal rows refer to by name.

`build_lookups` loads the names already in the database, then applies the
mapping's side files (accounts.csv and the like), creating what is missing
and leaving existing records untouched, so a second run creates nothing.
Side files are lookup tables of tens or hundreds of rows: they are held in
memory and written through the ORM.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db.models import Max

from dealgate.accounts.models import Team, User
from dealgate.accounts.services import checked_email, email_taken
from dealgate.accounts.teams import TeamNames
from dealgate.core.csvsource import (
    CellError,
    CsvFile,
    CsvFormatError,
    DecimalParser,
    NameMatcher,
    check_cell_text,
    delimiter_hint,
    matched_how,
    parse_int,
    quoted,
    requoted,
    spelling_key,
)
from dealgate.core.names import code_points, name_key, tidy_name
from dealgate.core.text import counted
from dealgate.deals.models import Organization, Product
from dealgate.errors import ValidationError
from dealgate.imports.mappings import Mapping, SideFile
from dealgate.imports.report import ImportReport

_NOT_IN_USERNAME = re.compile(r"[^\w.@+-]")
# A person's whole name: each half of it is a user's first or last name.
PERSON_NAME_LIMIT = 150
TEAM_NAME_LIMIT = Team._meta.get_field("name").max_length
EMAIL_LIMIT = User._meta.get_field("email").max_length


class ImportFileError(ValidationError):
    code = "invalid_file"


@dataclass
class Lookups:
    """Name matchers for what a deal row refers to, with where names came from."""

    organizations: NameMatcher[int]
    products: NameMatcher[int]
    owners: NameMatcher[int]
    organizations_from: str = "the database"
    products_from: str = "the database"
    owners_from: str = "the database"
    # Owner id -> username of the people who may no longer sign in: they may
    # own closed history, never an open deal.
    inactive_owners: dict[int, str] = field(default_factory=dict)
    # Owner id -> how an error names them (`person_label`), for a name that
    # matches several.
    owner_labels: dict[int, str] = field(default_factory=dict)
    # Kind ("organization", "product") -> the highest id before the import:
    # a row naming an id up to it names a record that was already present.
    last_before: dict[str, int] = field(default_factory=dict)


def build_lookups(mapping: Mapping, folder: Path, report: ImportReport) -> Lookups:
    """Load known names and apply side files; must run inside the import's
    transaction, since it creates records."""
    sides = mapping.side_files()
    lookups = Lookups(
        # Organizations are found as the deal page finds them: of those
        # whose names share a key, the first made.
        organizations=_known_names(Organization, NameMatcher(first_of_key=True)),
        products=_known_names(Product, NameMatcher()),
        owners=NameMatcher(),
        last_before={
            kind: model.objects.aggregate(last=Max("pk"))["last"] or 0
            for kind, model in (("organization", Organization), ("product", Product))
        },
    )
    if "organizations" in sides:
        side = sides["organizations"]
        _load_organizations(_side_records(mapping, folder, side), lookups, report)
        lookups.organizations_from = side.file
    if "products" in sides:
        side = sides["products"]
        _load_products(_side_records(mapping, folder, side), lookups, report)
        lookups.products_from = side.file
    if "people" in sides:
        side = sides["people"]
        present = _People(NameMatcher(), {})
        _add_users(present.matcher, present.labels)
        _load_people(_side_records(mapping, folder, side), present, report)
        lookups.owners_from = side.file
    lookups.inactive_owners = _add_users(lookups.owners, lookups.owner_labels)
    return lookups


def username_for(name: str) -> str:
    """Turn "Moses Frase" into "moses.frase": lowercase words joined by dots."""
    words = [_NOT_IN_USERNAME.sub("", word) for word in name.casefold().split()]
    return ".".join(word for word in words if word)[:150]


def _known_names(
    model: type[Organization] | type[Product], matcher: NameMatcher[int]
) -> NameMatcher[int]:
    names = model.objects.values_list("pk", "name").order_by("pk")
    for pk, name in names.iterator():
        matcher.add(name, pk)
    return matcher


def _add_users(matcher: NameMatcher[int], labels: dict[int, str]) -> dict[int, str]:
    """Add every person to `matcher` and their `person_label` to `labels`;
    return id -> username of those who may no longer sign in."""
    # People are named by username, full name or email, in the owner column
    # and in the people side file alike; a name two people share matches
    # neither, and the row is reported naming both.
    fields = ("pk", "username", "first_name", "last_name", "email", "is_active")
    inactive = {}
    for pk, username, first, last, email, active in User.objects.values_list(*fields):
        matcher.add(username, pk)
        matcher.add(f"{first} {last}", pk)
        matcher.add(email, pk)
        labels[pk] = person_label(username, email)
        if not active:
            inactive[pk] = username
    return inactive


def person_label(username: str, email: str) -> str:
    """How an error names one of several people a name matches."""
    return f"{username} ({email or 'no email'})"


def several_people(name: str, ids: list[int], labels: dict[int, str]) -> str:
    """Why `name` names nobody: it matches the people `ids`, named by
    their `labels`."""
    named = ", ".join(labels[pk] for pk in ids)
    return (
        f"{quoted(name)} matches {counted(len(ids), 'person', 'people')}: {named}; "
        "write the username or email of the one meant"
    )


@dataclass
class _People:
    """The people present before the side file, found as the owner column
    finds them (`_add_users`), with their labels."""

    matcher: NameMatcher[int]
    labels: dict[int, str]

    def find(self, column: str, name: str) -> int | None:
        """The id of the person `name` names, None if nobody; a CellError in
        `column` when it matches several."""
        found = self.matcher.find(name)
        if found is not None:
            return found.value
        shared = self.matcher.candidates(name)
        if shared:
            ids = [pk for _, pk in shared]
            raise CellError(column, several_people(name, ids, self.labels))
        return None


@dataclass
class _SideRecords:
    """A side file read whole (it is small), with its bad rows already reported."""

    file: str
    columns: dict[str, str]
    rows: list[tuple[int, dict[str, str]]]


def _side_records(mapping: Mapping, folder: Path, side: SideFile) -> _SideRecords:
    path = folder / side.file
    if not path.is_file():
        raise ImportFileError(
            f"mapping {mapping.name} needs {side.file} beside the deals file "
            f"(in {folder}); it is not there"
        )
    try:
        with CsvFile(
            path,
            encoding=mapping.encoding,
            delimiter=mapping.delimiter,
            named=mapping.encoding_named,
        ) as source:
            return _read_side(source, side)
    except CsvFormatError as exc:
        raise ImportFileError(f"{side.file}: {exc}") from exc


def _read_side(source: CsvFile, side: SideFile) -> _SideRecords:
    missing = [col for col in side.columns.values() if col not in source.columns]
    if missing:
        raise ImportFileError(
            f"{side.file} has no column {missing[0]!r}; it has "
            f"{', '.join(source.columns)}"
            f"{delimiter_hint(source.columns, missing, source.delimiter)}"
        )
    where = {name: source.index(col) for name, col in side.columns.items()}
    rows = []
    for record in source:
        if record.error:
            rows.append((record.line, {"": record.error}))
            continue
        rows.append((record.line, {k: record.fields[i] for k, i in where.items()}))
    return _SideRecords(side.file, side.columns, rows)


def _named_rows(
    records: _SideRecords, report: ImportReport
) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Yield (line, name, values) for good rows, the name tidied as every
    door stores one (`names.tidy_name`); report empty and repeated names,
    and names with nothing visible in them."""
    seen: dict[str, int] = {}
    name_column = records.columns["name"]
    for line, values in records.rows:
        if "" in values:
            report.bad(line, None, values[""], records.file)
            continue
        name = tidy_name(values["name"])
        if not name:
            typed = values["name"].strip()
            reason = "is empty"
            if typed:
                reason = f"holds no visible characters ({code_points(typed)})"
            report.bad(line, name_column, reason, records.file)
            continue
        if name in seen:
            report.bad(
                line,
                name_column,
                f"{quoted(name)} is already on line {seen[name]}",
                records.file,
            )
            continue
        seen[name] = line
        yield line, name, values


class _Joins:
    """Which names of an organizations or products side file stand for a
    record already there, or for one an earlier line makes: found by the
    matcher of those present (exactly, by name key, else by spelling), or
    sharing the `spelling_key` of an earlier line's new name, as the deals
    file's new names are joined. A name joined to another spelling is a
    warning naming its line, its spelling and the one it was taken for:
    nothing is joined silently. A joined line's other columns are not read,
    as a record present is left as it is."""

    def __init__(
        self,
        kind: str,
        file: str,
        present: NameMatcher[int],
        report: ImportReport,
    ) -> None:
        self.kind = kind
        self.file = file
        self.present = present
        self.report = report
        self.reused = 0
        # spelling key -> (line, name) of the new names read so far
        self.new: dict[str, tuple[int, str]] = {}

    def joined(self, line: int, name: str) -> bool:
        """True when `name`, of `line`, makes no new record."""
        found = self.present.find(name)
        if found is not None:
            self.reused += 1
            if found.spelled_as is not None:
                self._warn(line, name, quoted(found.spelled_as), found.spelled_as)
            return True
        # A name of punctuation only has no letters to share with another.
        key = spelling_key(name)
        first = self.new.get(key) if key else None
        if first is None:
            return False
        first_line, first_name = first
        self._warn(line, name, f"{quoted(first_name)} of line {first_line}", first_name)
        return True

    def made(self, line: int, name: str) -> None:
        """Note that `line` makes a record named `name`."""
        key = spelling_key(name)
        if key:
            self.new.setdefault(key, (line, name))

    def _warn(self, line: int, name: str, taken_for: str, known: str) -> None:
        self.report.warn(
            f"{self.file} line {line}: {self.kind} {quoted(name)} matched "
            f"{taken_for} {matched_how(name, known)}"
        )


def _load_organizations(
    records: _SideRecords, lookups: Lookups, report: ImportReport
) -> None:
    columns = records.columns
    amounts = DecimalParser()
    new: list[tuple[int, Organization, str]] = []
    joins = _Joins("organization", records.file, lookups.organizations, report)
    for line, name, values in _named_rows(records, report):
        if joins.joined(line, name):
            continue
        try:
            org = Organization(
                name=_text(columns, "name", name, 200),
                sector=_text(columns, "sector", values.get("sector", ""), 100),
                year_established=_int(columns, "year_established", values),
                revenue_musd=_decimal(amounts, columns, "revenue_musd", values),
                employees=_int(columns, "employees", values),
                location=_text(columns, "location", values.get("location", ""), 100),
            )
        except CellError as exc:
            report.bad(line, exc.column, exc.reason, records.file)
            continue
        new.append((line, org, values.get("parent", "").strip()))
        joins.made(line, name)
    Organization.objects.bulk_create([org for _, org, _ in new])
    for _, org, _ in new:
        lookups.organizations.add(org.name, org.pk)
    _link_parents(new, columns, lookups, report, records.file)
    report.count_side("organizations", created=len(new), reused=joins.reused)


def _link_parents(
    new: list[tuple[int, Organization, str]],
    columns: dict[str, str],
    lookups: Lookups,
    report: ImportReport,
    file: str,
) -> None:
    children = []
    for line, org, parent in new:
        if not parent:
            continue
        found = lookups.organizations.find(parent)
        if found is None or found.value == org.pk:
            reason = "matches no organization" if found is None else "is itself"
            report.bad(line, columns.get("parent"), f"{quoted(parent)} {reason}", file)
            continue
        if found.spelled_as is not None:
            report.warn(
                f"{file} line {line}: parent organization {quoted(parent)} "
                f"matched {quoted(found.spelled_as)} "
                f"{matched_how(parent, found.spelled_as)}"
            )
        org.parent_id = found.value
        children.append(org)
    Organization.objects.bulk_update(children, ["parent"])


def _load_products(
    records: _SideRecords, lookups: Lookups, report: ImportReport
) -> None:
    columns = records.columns
    prices = DecimalParser()
    new: list[Product] = []
    joins = _Joins("product", records.file, lookups.products, report)
    for line, name, values in _named_rows(records, report):
        if joins.joined(line, name):
            continue
        try:
            new.append(
                Product(
                    name=_text(columns, "name", name, 200),
                    series=_text(columns, "series", values.get("series", ""), 100),
                    list_price=_decimal(prices, columns, "list_price", values),
                )
            )
        except CellError as exc:
            report.bad(line, exc.column, exc.reason, records.file)
            continue
        joins.made(line, name)
    Product.objects.bulk_create(new)
    for product in new:
        lookups.products.add(product.name, product.pk)
    report.count_side("products", created=len(new), reused=joins.reused)


def _load_people(records: _SideRecords, present: _People, report: ImportReport) -> None:
    """Reps from the name column, managers from the manager column, and one
    team per (team, manager) pair, since one office may have several
    managers and a team has one. A person already present (by username,
    full name or email, as the owner column finds one) is left as they are."""
    columns = records.columns
    known = TeamNames()
    people: list[tuple[int, str, str, str, str]] = []
    emails = _EmailHolders()
    for line, name, values in _named_rows(records, report):
        try:
            _text(columns, "name", name, PERSON_NAME_LIMIT)
            manager = _text(columns, "manager", values.get("manager", ""), 150)
            group = _text(columns, "team", values.get("team", ""), TEAM_NAME_LIMIT)
            team = f"{group} ({manager})" if group and manager else group or manager
            # The team's name holds its manager's: both must fit in it.
            _text(columns, "team", team, TEAM_NAME_LIMIT)
            email = _email(columns, values.get("email", ""))
            known.find(team)  # refuses a name two teams from before share
            found = present.find(columns["name"], name)
            if manager:
                present.find(columns.get("manager", "manager"), manager)
            if found is None and email:
                emails.claim(columns.get("email", "email"), email, name, line)
        except CellError as exc:
            report.bad(line, exc.column, exc.reason, records.file)
            continue
        except ValidationError as refused:
            report.bad(line, columns.get("team"), refused.detail, records.file)
            continue
        people.append((line, name, manager, team, email))
    # team -> its manager, and the first line naming them
    leads: dict[str, tuple[str, int]] = {}
    for line, _, manager, team, _ in people:
        if manager:
            leads.setdefault(team, (manager, line))
    named = {team for _, _, _, team, _ in people if team}
    teams, new_teams = _ensure_teams(named, known, report)
    manager_column = columns.get("manager", "manager")
    wanted = [
        _Wanted(manager, "", User.Role.MANAGER, team, line, manager_column)
        for team, (manager, line) in leads.items()
    ]
    wanted += [
        _Wanted(name, email, User.Role.REP, team, line, columns["name"])
        for line, name, _, team, email in people
    ]
    users = _ensure_users(wanted, present, teams, _Told(records.file, report))
    # Only teams created now get their manager; existing teams stay as they are.
    for team in new_teams:
        team.manager_id = users.get(leads.get(team.name, ("", 0))[0])
    Team.objects.bulk_update(new_teams, ["manager"])


class _EmailHolders:
    """Who has each email, ignoring case: the people present, and the new
    people of the side file's lines read so far. A new person may take no
    email another has (`accounts.services.check_email_free`, as `dealgate
    user add` and `user set --email` check it); a name read twice is a bad
    row already, and a person present is found by their email too."""

    def __init__(self) -> None:
        # email -> how a refusal names who has it
        people = User.objects.exclude(email="").order_by("-pk")
        self.held = {
            email.lower(): username
            for email, username in people.values_list("email", "username")
        }

    def claim(self, column: str, email: str, name: str, line: int) -> None:
        """Give `email` to the new person `name` of `line`, or a CellError
        in `column` naming who has it."""
        key = email.lower()
        holder = self.held.get(key)
        if holder is not None:
            raise CellError(column, email_taken(email, holder))
        self.held[key] = f"{quoted(name)} on line {line}"


def _ensure_teams(
    names: set[str], known: TeamNames, report: ImportReport
) -> tuple[dict[str, Team], list[Team]]:
    """Name -> team, found among `known` as every door finds one
    (`accounts.teams`: the exact spelling, else ignoring case and spacing)
    or created, once per name key; and the teams created. Names two teams
    share are bad rows before this."""
    teams: dict[str, Team] = {}
    new: dict[str, Team] = {}
    for name in sorted(names):
        found = known.find(name)
        if found is None:
            found = new.setdefault(name_key(name), Team(name=name))
        teams[name] = found
    reused = {team.pk for team in teams.values() if team.pk is not None}
    Team.objects.bulk_create(list(new.values()))
    report.count_side("teams", created=len(new), reused=len(reused))
    return teams, list(new.values())


@dataclass(frozen=True)
class _Wanted:
    """A person a people side file names: in the name column, or as a
    team's manager, on `line` (the first naming them), in `column`."""

    name: str
    email: str
    role: str
    team: str
    line: int
    column: str


@dataclass(frozen=True)
class _Told:
    """Where the people side file's warnings go."""

    file: str
    report: ImportReport

    def taken_for(self, wanted: _Wanted, how: str, person: str) -> None:
        """Warn that `wanted`'s name, not written as the person's, was taken
        for `person`, as `how` says: a name joined silently would give one
        person's deals to another."""
        self.report.warn(
            f"{self.file} line {wanted.line}: {wanted.column} "
            f"{quoted(wanted.name)} matched {how}: taken for {person}"
        )


def _ensure_users(
    wanted: list[_Wanted],
    present: _People,
    teams: dict[str, Team],
    told: _Told,
) -> dict[str, int]:
    """Create the users not yet present; return name -> id for every name
    in `wanted`. A name finds a person present as `present` finds one
    (names matching several are bad rows before this), else by the
    username it would be given (`username_for`), which must stay unique.
    A name found otherwise than as it is written (ignoring case, by
    spelling, by the username it makes) is a warning naming its line, the
    name and the person it was taken for.

    Managers come first in `wanted`, so a manager who is also listed as a rep
    keeps the manager role.
    """
    found: dict[str, int] = {}
    by_username: dict[str, _Wanted] = {}
    named: dict[str, str] = {}  # name -> the username it makes
    for person in wanted:
        match = present.matcher.find(person.name)
        if match is not None:
            found[person.name] = match.value
            known = match.spelled_as
            if known is not None:
                how = f"{quoted(known)} {matched_how(person.name, known)}"
                told.taken_for(person, how, present.labels[match.value])
            continue
        username = username_for(person.name)
        if username:
            named[person.name] = username
            first = by_username.setdefault(username, person)
            if first.name != person.name:
                how = (
                    f"{quoted(first.name)} of line {first.line} "
                    f"{matched_how(person.name, first.name)}"
                )
                told.taken_for(person, how, f"one person, {username}")
    existing = dict(
        User.objects.filter(username__in=by_username).values_list("username", "pk")
    )
    for username in existing:
        person = by_username[username]
        how = f"the username {username} it makes"
        told.taken_for(person, how, present.labels[existing[username]])
    new = [
        _new_user(username, p.name, p.email, p.role, teams.get(p.team))
        for username, p in sorted(by_username.items())
        if username not in existing
    ]
    User.objects.bulk_create(new)
    ids = {**existing, **{user.username: user.pk for user in new}}
    reused = {*found.values(), *existing.values()}
    told.report.count_side("users", created=len(new), reused=len(reused))
    return {**found, **{name: ids[username] for name, username in named.items()}}


def _new_user(
    username: str, name: str, email: str, role: str, team: Team | None
) -> User:
    first, _, last = name.partition(" ")
    return User(
        username=username,
        first_name=first,
        last_name=last,
        email=email,
        role=role,
        team=team,
        # Imported people sign in only after an admin sets a password.
        password=make_password(None),
    )


def _email(columns: dict[str, str], value: str) -> str:
    """An email cell, checked as every door checks a person's email
    (`accounts.services.checked_email`)."""
    column = columns.get("email", "email")
    value = _text(columns, "email", value, EMAIL_LIMIT)
    try:
        return checked_email(value)
    except ValidationError as refused:
        raise CellError(column, requoted(refused.message, value)) from None


def _text(columns: dict[str, str], field: str, value: str, limit: int) -> str:
    """One line of text with its spaces folded, kept to `limit` characters
    and to the rules of every other door (core.text)."""
    value = " ".join(value.split())
    check_cell_text(columns.get(field, field), value, limit, one_line=True)
    return value


def _int(columns: dict[str, str], field: str, values: dict[str, str]) -> int | None:
    if field not in values:
        return None
    return parse_int(columns[field], values[field], minimum=0)


def _decimal(
    parser: DecimalParser, columns: dict[str, str], field: str, values: dict[str, str]
) -> Any:
    if field not in values:
        return None
    return parser(columns[field], values[field])
