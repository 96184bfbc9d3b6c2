"""`dealgate user ...` and `dealgate team ...`: the people who sign in.

Passwords are asked for twice on a terminal, never taken as an argument
(it would stay in the shell's history); `--password-stdin` reads one line,
for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dealgate.core.text import counted

if TYPE_CHECKING:
    from dealgate.accounts.models import SignInFailures


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_user(subparsers)
    _register_team(subparsers)


def _register_user(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "user",
        help="people who sign in: add, list, change, set a password",
        description="An admin sets Dealgate up (and may use /admin/), a manager "
        "runs a team, a rep works deals.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    add = actions.add_parser("add", help="add a person who can sign in")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("admin", "manager", "rep"))
    add.add_argument("--team", metavar="NAME", help="a team added before")
    add.add_argument("--email", default="", help="where their notices are mailed")
    add.add_argument("--name", default="", help='their full name, "First Last"')
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    add.set_defaults(func=run_user_add)

    listing = actions.add_parser("list", help="everyone, with role and team")
    listing.set_defaults(func=run_user_list)

    change = actions.add_parser(
        "set", help="change a role, team, name, email, or sign-in"
    )
    change.add_argument("username")
    change.add_argument("--role", choices=("admin", "manager", "rep"))
    change.add_argument("--team", metavar="NAME", help='a team, or "" for none')
    change.add_argument("--name", help='their full name, "First Last"')
    change.add_argument("--email", help='where their notices are mailed, "" for none')
    signin = change.add_mutually_exclusive_group()
    signin.add_argument(
        "--inactive", dest="active", action="store_false", default=None,
        help="may no longer sign in; their history stays, and work they still "
        "hold is refused unless --hand-to names who takes it",
    )  # fmt: skip
    signin.add_argument(
        "--active", dest="active", action="store_true", help="may sign in again"
    )
    change.add_argument(
        "--hand-to",
        metavar="USERNAME",
        help="with --inactive: an active person who takes over their open deals, "
        "open leads, running clocks and open tasks (refused without it while "
        "they hold any)",
    )
    change.set_defaults(func=run_user_set)

    password = actions.add_parser("password", help="set a person's password")
    password.add_argument("username")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    password.set_defaults(func=run_user_password)

    unlock = actions.add_parser(
        "unlock",
        help="let a username, or an address, sign in again after failed tries",
        description="Failed sign-ins lock a username from one client address, a "
        "client address, or a username from every address, for a while (README, "
        "Configuration). This lifts every lock of the username (from any "
        "address), or of the address (for any username), and forgets their "
        "failures. The log's warnings name the username and address.",
    )
    unlock.add_argument("username", nargs="?", default="")
    unlock.add_argument("--address", default="", help="a client address, as logged")
    unlock.set_defaults(func=run_user_unlock)


def _register_team(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("team", help="teams and their managers")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="add a team")
    add.add_argument("name")
    add.add_argument("--manager", metavar="USERNAME", help="a manager, who joins it")
    add.set_defaults(func=run_team_add)
    change = actions.add_parser("set", help="give a team a manager")
    change.add_argument("name")
    change.add_argument(
        "--manager", required=True, metavar="USERNAME", help='a manager, or "" for none'
    )
    change.set_defaults(func=run_team_set)
    listing = actions.add_parser("list", help="teams with manager and people")
    listing.set_defaults(func=run_team_list)


def run_user_add(args: argparse.Namespace) -> int:
    from dealgate.accounts.services import add_user

    password = _password(args.password_stdin)
    user = add_user(
        args.username,
        role=args.role,
        password=password,
        team=args.team,
        email=args.email,
        name=args.name,
    )
    where = f" in team {user.team.name}" if user.team else ""
    print(f"added {user.username} ({user.role}{where}); they can sign in now")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    from dealgate.accounts import signin
    from dealgate.accounts.models import User

    locks = signin.locked_now()
    people = list(User.objects.select_related("team").order_by("username"))
    shown = 0
    rows, states = [], []
    for user in people:
        state = "" if user.is_active else "  (inactive)"
        key = signin.username_key(user.username)
        theirs = [lock for lock in locks if lock.username == key]
        shown += len(theirs)
        states.append(state + _sign_in_locks(theirs))
        team = user.team.name if user.team else "-"
        rows.append((user.username, user.role, team, user.email))
    for line, state in zip(columns(rows), states, strict=True):
        print(f"{line}{state}")
    if not people:
        print("no users yet; add one with: dealgate user add NAME --role admin")
    if len(locks) > shown:
        print(
            f"{counted(len(locks) - shown, 'other lock')} after failed sign-ins, of "
            "usernames nobody has or of client addresses; see: dealgate user unlock "
            "--help"
        )
    return 0


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """`rows` as lines of aligned columns: each but the last as wide as its
    widest value, as a terminal shows it (`_width`), and two spaces apart.
    The last column is not padded, so no line ends in spaces (nor does one
    whose last value is empty)."""
    if not rows:
        return []
    widths = [max(_width(row[n]) for row in rows) for n in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [
            text + " " * (width - _width(text))
            for text, width in zip(row, widths, strict=False)
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def _width(text: str) -> int:
    """How many cells a terminal gives `text`: two for a wide character (CJK,
    full-width forms), none for a combining mark, one for the rest."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def _sign_in_locks(locks: list[SignInFailures]) -> str:
    """What `user list` says of one person's sign-in locks (the longest
    first): their username's from every address, or from some addresses."""
    if not locks:
        return ""
    everywhere = [lock for lock in locks if lock.scope == "username"]
    if everywhere:
        until = everywhere[0].locked_until
        return (
            f"  (sign-in locked until {until:%Y-%m-%d %H:%M} UTC, but from "
            "addresses they recently signed in from)"
        )
    return (
        f"  (sign-in locked from {counted(len(locks), 'address')} until "
        f"{locks[0].locked_until:%Y-%m-%d %H:%M} UTC)"
    )


def run_user_set(args: argparse.Namespace) -> int:
    from dealgate.accounts.services import change_user

    # The name as typed: the service tidies it, and refuses one of spaces
    # alone rather than reading it as none.
    user = change_user(
        args.username,
        role=args.role,
        team=args.team,
        active=args.active,
        name=args.name,
        email=args.email,
        hand_to=args.hand_to,
    )
    team = user.team.name if user.team else "no team"
    state = "active" if user.is_active else "inactive"
    print(f"{user.username}: {user.role}, {team}, {state}")
    if args.hand_to:
        print(f"handed over to {args.hand_to.strip()}: {user.handed_over}")
    return 0


def run_user_password(args: argparse.Namespace) -> int:
    from dealgate.accounts.services import set_password

    set_password(args.username, _password(args.password_stdin))
    print(f"password of {args.username} changed")
    return 0


def run_user_unlock(args: argparse.Namespace) -> int:
    from dealgate.accounts import signin
    from dealgate.cli import CommandError

    username, address = args.username.strip(), args.address.strip()
    if not (username or address):
        raise CommandError("say whose sign-ins to unlock: a USERNAME or --address")
    locked = signin.unlock(username=username, address=address)
    named = [username] if username else []
    named += [f"address {address}"] if address else []
    whom = " and ".join(named)
    if locked:
        print(f"sign-ins for {whom} are unlocked")
    else:
        print(f"{whom}: no lock; the count of failed sign-ins starts again")
    return 0


def run_team_add(args: argparse.Namespace) -> int:
    from dealgate.accounts.services import add_team

    team = add_team(args.name, manager=args.manager)
    led = f", led by {team.manager.username}" if team.manager else ""
    print(f"added team {team.name}{led}")
    return 0


def run_team_set(args: argparse.Namespace) -> int:
    from dealgate.accounts.services import change_team

    team = change_team(args.name, manager=args.manager)
    print(f"team {team.name}: manager {team.manager.username if team.manager else '-'}")
    return 0


def run_team_list(args: argparse.Namespace) -> int:
    from django.db.models import Prefetch

    from dealgate.accounts.models import Team, User

    # Two queries however many teams: the teams, then their members at once.
    members = Prefetch("members", queryset=User.objects.order_by("username"))
    teams = (
        Team.objects.select_related("manager")
        .prefetch_related(members)
        .order_by("name")
    )
    rows = [("team", "manager", "members")]
    for team in teams:
        people = ", ".join(user.username for user in team.members.all())
        manager = team.manager.username if team.manager else "-"
        rows.append((team.name, manager, people or "nobody yet"))
    if len(rows) == 1:
        print("no teams yet; add one with: dealgate team add NAME")
        return 0
    for line in columns(rows):
        print(line)
    return 0


def _password(from_stdin: bool) -> str:
    from dealgate.cli import CommandError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for a password; use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the two passwords differ; nothing was changed")
    return first
