"""People and teams: adding them, changing their role or team, passwords.

Every door (the `dealgate user` and `dealgate team` commands; the admin at
/admin/ edits the same rows) goes through these, so the rules hold alike: a
role is admin, manager or rep, and an admin may also use /admin/; a team is
named, and its manager is one of its people or none.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction

from dealgate.core.calendar import Calendar, CalendarError
from dealgate.core.names import name_key, tidy_name
from dealgate.core.text import (
    CONTROL_OR_BREAK,
    blank_problem,
    counted,
    looks_blank,
    optional_problem,
)
from dealgate.errors import NotFound, ValidationError

from . import access, handover
from .models import Team, User
from .teams import TeamNames, find_team, make_lead

log = logging.getLogger("dealgate.accounts")

MIN_PASSWORD = 8
ROLES = tuple(User.Role.values)


def add_user(
    username: str,
    *,
    role: str,
    password: str,
    team: str | None = None,
    email: str = "",
    name: str = "",
) -> User:
    """A new person who can sign in. Raises ValidationError naming the field
    (a taken username, an unknown role or team, a short password)."""
    username = username.strip()
    _check_name("username", username, _field_length(User, "username"))
    _check_username_free(username)
    user = User(username=username, email=checked_email(email))
    check_email_free(user.email)
    _set_role(user, role)
    user.team = _team(team) if team else None
    user.first_name, user.last_name = _full_name(name)
    _set_password(user, password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Taken between the check and the insert.
        _check_username_free(username)
        raise
    log.info("user %s added as %s", username, role)
    return user


def change_user(
    username: str,
    *,
    role: str | None = None,
    team: str | None = None,
    active: bool | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    name: str | None = None,
    email: str | None = None,
    calendar: dict | None = None,
    hand_to: str | None = None,
    by: User | None = None,
) -> User:
    """Change a person's role, team ("" for none), whether they may sign in,
    their names (`first_name`, `last_name`, or both at once as the full
    `name`, "First Last"; "" for none), email ("" for none) or own working
    hours (a pipeline file's [calendar] table; {} for the pipeline's).
    Raises ValidationError naming the field, before anything is written.

    Names are given as typed and tidied here (`names.tidy_name`), so every
    door stores them alike; one that holds nothing visible once tidied (all
    spaces, invisible characters) is refused, never read as none.

    A team's manager is an active manager (or admin) of that team: one who is
    demoted to rep, deactivated or moved to another team stops leading it,
    leaving it without a manager (logged at WARNING), unless they leave
    with a successor who may lead it (`handover.team_successor`), who then
    does. Reactivating them does not give it back.

    Deactivating someone who still holds work (open deals or leads, clocks,
    tasks: `handover.holdings_of`) is refused with `handover.HandOverNeeded`
    unless `hand_to` names a successor, an active person, who is then given
    all of it in the same transaction (`handover.hand_over`, as `by`; None is
    the system). `hand_to` also hands over the work of someone deactivated
    before. What moved is kept on the returned user as `handed_over`.

    Deactivating someone also ends every session they had and revokes their
    API tokens (`access`), so reactivating them later brings neither back:
    they sign in again and are given new tokens."""
    user = _user(username)
    was_active = user.is_active
    if role is not None:
        _set_role(user, role)
    if team is not None:
        user.team = _team(team) if team else None
    if active is not None:
        user.is_active = active
    if name is not None:
        if first_name is not None or last_name is not None:
            raise ValidationError(
                "give the full name, or the first and last name, not both",
                field="name",
            )
        user.first_name, user.last_name = _full_name(name)
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None:
            setattr(user, field, _tidy_person_name(field, value))
    if email is not None:
        user.email = checked_email(email)
        check_email_free(user.email, person=user)
    if calendar is not None:
        user.calendar = _checked_calendar(calendar)
    successor = _successor(user, hand_to)
    leaving = was_active and not user.is_active
    if leaving:
        user.session_salt = access.new_session_salt()
    held = handover.Holdings()
    revoked = 0
    with transaction.atomic():
        if not user.is_active:
            # Before the row is written: a lock taken after would not stop
            # the doors that give work (`handover.hold`).
            handover.hold(user)
        _keep_an_admin(user, role=role, active=active)
        user.save()
        if successor is not None:
            held = handover.hand_over(user, successor, by=by)
        elif was_active and not user.is_active:
            held = handover.holdings_of(user)
            if held:
                raise handover.HandOverNeeded(user, held)
        led = Team.objects.filter(manager=user)
        if user.role == User.Role.REP or not user.is_active:
            left = list(led)
        else:
            left = list(led.exclude(pk=user.team_id))
        Team.objects.filter(pk__in=[t.pk for t in left]).update(manager=None)
        if leaving:
            revoked = access.revoke_tokens(user)
    if leaving:
        _log_access_ended(user, access.end_stored_sessions(user), revoked)
    for former in left:
        why = handover.team_successor(former, successor) if successor else ""
        _warn_no_manager(former, username, why)
    if not user.is_active:
        for line in handover.still_named_by(user):
            log.warning("%s", line)
    log.info("user %s changed", username)
    user.handed_over = held
    return user


def _warn_no_manager(team: Team, username: str, why: str = "") -> None:
    """Log at WARNING that `team` was left without a manager when `username`
    stopped leading it (`why`, when given, says more), and how to give it
    one."""
    log.warning(
        "team %s has no manager now: %s no longer leads it%s; give it one: "
        "dealgate team set %r --manager USERNAME",
        team.name,
        username,
        f", and {why}" if why else "",
        team.name,
    )


def _log_access_ended(user: User, sessions: int | None, tokens: int) -> None:
    if sessions is None:
        ended = (
            f"all sessions ended (the {settings.SESSION_ENGINE} engine keeps no count)"
        )
    else:
        ended = f"{counted(sessions, 'session')} ended"
    log.info(
        "user %s deactivated: %s, %s revoked",
        user.username,
        ended,
        counted(tokens, "API token"),
    )


def _successor(user: User, hand_to: str | None) -> User | None:
    """The person `hand_to` names to take over `user`'s work, checked; None
    when it names nobody. Only someone who leaves hands their work over."""
    name = (hand_to or "").strip()
    if not name:
        return None
    if user.is_active:
        raise ValidationError(
            f"hand_to: {user.username} stays active; work is handed over by "
            f"someone who leaves (dealgate user set {user.username} --inactive "
            f"--hand-to {name})",
            field="hand_to",
        )
    successor = User.objects.filter(username=name).first()
    if successor is None:
        raise NotFound(f"hand_to: no user {name!r}", field="hand_to")
    handover.check_successor(user, successor, field="hand_to")
    return successor


def _keep_an_admin(user: User, *, role: str | None, active: bool | None) -> None:
    """Refuse a change that would leave nobody active as admin: only an
    admin manages people, pipelines and the admin site, so such a change
    could not be undone from the web. The active admins are locked, so two
    admins demoting each other at once cannot both succeed: FOR NO KEY
    UPDATE, the lock their own update takes, which conflicts with itself
    but not with routing's FOR KEY SHARE (`leads.assign._people` takes a
    person it finds locked FOR UPDATE for one being deactivated, and would
    pass every other admin over for the length of this change)."""
    was_admin = User.objects.filter(
        pk=user.pk, role=User.Role.ADMIN, is_active=True
    ).exists()
    if not was_admin or (user.role == User.Role.ADMIN and user.is_active):
        return
    others = (
        User.objects.select_for_update(no_key=True)
        .filter(role=User.Role.ADMIN, is_active=True)
        .exclude(pk=user.pk)
    )
    if not list(others.values_list("pk", flat=True)):
        field = "active" if active is False else "role"
        raise ValidationError(
            f"{user.username} is the only active admin; make another person "
            "admin first (dealgate user set NAME --role admin)",
            field=field,
        )


def set_password(username: str, password: str) -> User:
    user = _user(username)
    _set_password(user, password)
    user.save(update_fields=["password"])
    log.info("user %s: password changed", username)
    return user


def add_team(name: str, *, manager: str | None = None) -> Team:
    """A new team; `manager`, when given, is put in it and leads it.

    The name is kept tidied (`names.tidy_name`: no spaces at either end, one
    space between words) and refused when a team's name shares its key
    (`names.name_key`: case, spacing and invisible characters aside), naming
    that team as spelled. On PostgreSQL a lock on the key, held to the
    transaction's end, keeps two requests from adding "Nord" and "nord" at
    once (SQLite serialises writers already)."""
    name = _tidy_team_name(name)
    with transaction.atomic():
        _lock_team_name(name_key(name))
        taken = TeamNames().sharing_key(name)
        if taken:
            raise ValidationError(
                f"there is already a team {taken[0].name!r}", field="name"
            )
        team = Team.objects.create(name=name)
        left = _lead(team, manager) if manager else []
    for former in left:
        _warn_no_manager(former, manager or "", f"leads team {team.name} now")
    log.info("team %s added", name)
    return team


def change_team(name: str, *, manager: str) -> Team:
    """Give the team `name` names (`teams.find_team`) a manager ("" for
    none), who joins it."""
    team = _team(name)
    left: list[Team] = []
    with transaction.atomic():
        if manager:
            left = _lead(team, manager)
        else:
            team.manager = None
            team.save(update_fields=["manager"])
    for former in left:
        _warn_no_manager(former, manager, f"leads team {team.name} now")
    log.info("team %s: manager %s", team.name, manager or "none")
    return team


def _tidy_team_name(typed: str) -> str:
    """A team's name as stored (`names.tidy_name`), checked as `_check_name`
    checks any name; a line break or control character is refused rather
    than made a space."""
    if CONTROL_OR_BREAK.search(typed):
        raise ValidationError("name must not hold control characters", field="name")
    # A name of invisible characters only is checked as typed, so the
    # refusal can name what it holds.
    name = tidy_name(typed) or typed
    _check_name("name", name, _field_length(Team, "name"))
    return name


def _lock_team_name(key: str) -> None:
    """Hold, to the transaction's end, a PostgreSQL advisory lock on the team
    name `key`, so that two requests cannot add one name twice."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [team_name_lock_id(key)])


def team_name_lock_id(key: str) -> int:
    """The PostgreSQL advisory lock that guards the team name `key`."""
    digest = hashlib.blake2b(f"team:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lead(team: Team, username: str) -> list[Team]:
    """Make `username` the manager of `team`, in it; the teams they led
    before, which are left without a manager, are returned."""
    person = _user(username)
    if not person.is_active:
        raise ValidationError(
            f"{username} may not sign in any more; choose someone active",
            field="manager",
        )
    if person.role == User.Role.REP:
        raise ValidationError(
            f"{username} is a rep; make them a manager first "
            f"(dealgate user set {username} --role manager)",
            field="manager",
        )
    return make_lead(team, person)


def _set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise ValidationError(
            f"role must be one of {', '.join(ROLES)}; got {role!r}", field="role"
        )
    user.role = role
    # An admin sets Dealgate up, which includes the admin pages.
    user.is_staff = user.is_superuser = role == User.Role.ADMIN


def _check_name(field: str, value: str, limit: int, *, empty: bool = False) -> None:
    """A name people read and type: not empty (unless `empty`), within the
    column, one line without control characters. An optional name is
    judged as typed: empty is none, and spaces alone are refused as
    invisible characters are (`text.optional_problem`), never read as none."""
    label = field.replace("_", " ")
    if empty:
        problem = optional_problem(value, label)
        if problem is not None:
            raise ValidationError(problem, field=field)
        value = value.strip()
    elif looks_blank(value):
        missing = f"{label} must not be empty"
        raise ValidationError(blank_problem(value, label, missing=missing), field=field)
    if len(value) > limit:
        raise ValidationError(
            f"{label} is {len(value)} characters long; the limit is {limit}",
            field=field,
        )
    if CONTROL_OR_BREAK.search(value) or (field == "username" and " " in value):
        what = (
            "spaces or control characters"
            if field == "username"
            else ("control characters")
        )
        raise ValidationError(f"{label} must not hold {what}", field=field)


def _full_name(typed: str) -> tuple[str, str]:
    """A person's first and last name from their full name as typed ("First
    Last"): tidied, then split at the first space. Empty is none."""
    limit = _field_length(User, "first_name") + 1 + _field_length(User, "last_name")
    name = _tidy_person_name("name", typed, limit=limit)
    first, _, last = name.partition(" ")
    for part, text in (("first", first), ("last", last)):
        most = _field_length(User, f"{part}_name")
        if len(text) > most:
            raise ValidationError(
                f"name: the {part} name is {len(text)} characters long; the "
                f"limit is {most}",
                field="name",
            )
    return first, last


def _tidy_person_name(field: str, typed: str, *, limit: int | None = None) -> str:
    """A person's name (`field`) as stored: checked as typed (`_check_name`:
    spaces or invisible characters alone are refused; empty is none), then
    tidied (`names.tidy_name`). Within the column's length unless `limit`."""
    _check_name(field, typed, limit or _field_length(User, field), empty=True)
    name = tidy_name(typed)
    if typed and not name:
        # What `_check_name` lets through but tidying empties (a character
        # one rule counts as visible and the other not) is refused alike.
        label = field.replace("_", " ")
        raise ValidationError(
            f"{label}: holds nothing visible once tidied; leave it empty for none",
            field=field,
        )
    return name


def checked_email(email: str) -> str:
    """`email` stripped, "" for none; a ValidationError (field "email") when
    it is not an address or too long for the user's email. Every door that
    sets a person's email checks it here (the people side file of an
    import too)."""
    email = email.strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError(
            f"{email!r} is not an email address", field="email"
        ) from None
    if len(email) > _field_length(User, "email"):
        raise ValidationError("email is too long", field="email")
    return email


def check_email_free(email: str, *, person: User | None = None) -> None:
    """Refuse (field "email") an email another person than `person` has,
    ignoring case as mail does, naming who has it: a sign-in link or a
    notice sent to it would reach them. Every door that gives a person an
    email checks it so (the people side file of an import from what it
    read, `email_taken`)."""
    if not email:
        return
    others = User.objects.filter(email__iexact=email)
    if person is not None and person.pk is not None:
        others = others.exclude(pk=person.pk)
    holder = others.order_by("pk").first()
    if holder is not None:
        raise ValidationError(email_taken(email, holder.username), field="email")


def email_taken(email: str, holder: str) -> str:
    """Why `email` is refused: `holder` (a person as a message names them)
    has it."""
    return f"{email!r} is already the email of {holder}; each person needs their own"


def _checked_calendar(table: dict) -> dict:
    if not table:
        return {}
    try:
        Calendar.from_dict(table)
    except CalendarError as exc:
        raise ValidationError(str(exc), field="calendar") from None
    return table


def _field_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


def _set_password(user: User, password: str) -> None:
    if not password.strip():
        raise ValidationError("password must not be blank", field="password")
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"password must be at least {MIN_PASSWORD} characters", field="password"
        )
    user.set_password(password)


def _check_username_free(username: str) -> None:
    """Refuse a username that one already taken matches ignoring case (as
    Django's own forms do), naming the taken one as it is spelled."""
    taken = User.objects.filter(username__iexact=username).first()
    if taken is not None:
        raise ValidationError(
            f"there is already a user {taken.username!r}", field="username"
        )


def _user(username: str) -> User:
    """The user called exactly `username` (usernames keep Django's rule: the
    spelling signs in); a refusal names one spelled otherwise, if any."""
    user = User.objects.filter(username=username).first()
    if user is None:
        other = User.objects.filter(username__iexact=username.strip()).first()
        hint = ""
        if other is not None:
            hint = f"; usernames are exact: did you mean {other.username!r}?"
        raise NotFound(f"no user {username!r}{hint}", field="username")
    return user


def _team(name: str) -> Team:
    """The team `name` names (`teams.find_team`: exact, else ignoring case
    and spacing); refused naming both spellings when two share it."""
    team = find_team(name)
    if team is None:
        tidy = tidy_name(name) or name
        raise NotFound(
            f"no team {tidy!r}; add it with: dealgate team add {tidy!r}", field="team"
        )
    return team
