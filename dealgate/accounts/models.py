from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.crypto import salted_hmac


class Team(models.Model):
    """A group of people, usually a regional office, led by one manager."""

    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in: an admin sets pipelines up, a manager runs a team,
    a rep works deals."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "Manager"
        REP = "rep", "Rep"

    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    # The person's own working hours, as a pipeline file's [calendar] table;
    # empty means they work the pipeline's hours. Routing skips people who are
    # outside theirs.
    calendar = models.JSONField(default=dict, blank=True, db_default={})
    # Changed when the person is deactivated, so every session signed in
    # before then stops opening pages, whatever the session engine keeps
    # (see `_get_session_auth_hash`); "" until the first deactivation.
    session_salt = models.CharField(
        max_length=32, blank=True, default="", db_default="", editable=False
    )

    def clean(self) -> None:
        super().clean()
        if self.calendar:
            from dealgate.core.calendar import Calendar, CalendarError

            try:
                Calendar.from_dict(self.calendar)
            except CalendarError as exc:
                raise ValidationError({"calendar": str(exc)}) from exc

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django ends a session whose recorded hash no longer matches, as
        # after a password change; the salt ends them on deactivation too.
        # Without one the hash is Django's, so sessions outlive an upgrade.
        if not self.session_salt:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "dealgate.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_salt}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.MANAGER)

    def __str__(self) -> str:
        return self.display_name


def by_display_name(people: Iterable[User]) -> list[User]:
    """`people` in the order a person looks for them: by the name shown
    (case set aside), the username only between equal names."""
    return sorted(
        people, key=lambda user: (user.display_name.casefold(), user.username)
    )


def choice_labels(people: Iterable[User]) -> list[tuple[User, str]]:
    """`people` as a choice lists them: in `by_display_name` order, each by
    the name shown, with the username added only where two share that name
    (case set aside), so the two can still be told apart."""
    ordered = by_display_name(people)
    names = Counter(person.display_name.casefold() for person in ordered)
    return [
        (
            person,
            f"{person.display_name} ({person.username})"
            if names[person.display_name.casefold()] > 1
            else person.display_name,
        )
        for person in ordered
    ]


class SignInFailures(models.Model):
    """Failed sign-ins counted in one scope, and the lock they led to
    (dealgate.accounts.signin): a username from one client address, a client
    address for any usernames, or a username from any addresses. A username
    is kept as typed, case-folded, whether or not such a user exists; an
    address only as a keyed hash. A row of a username from one address also
    remembers when that username last signed in from there."""

    class Scope(models.TextChoices):
        PAIR = "pair", "Username from one address"
        ADDRESS = "address", "Client address"
        USERNAME = "username", "Username from any address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    username = models.CharField(max_length=150, blank=True)
    address = models.CharField(max_length=64, blank=True)
    # Failures since `since`, the first failure of the current window; set
    # back to none when a lock starts, so a lock's end gives a fresh count.
    failures = models.PositiveIntegerField(default=0)
    since = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # Scope PAIR only: the last successful sign-in of this username from this
    # address, which lets it through a lock of the username from any address.
    signed_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "failed sign-ins"
        verbose_name_plural = "failed sign-ins"
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "username", "address"],
                name="sign_in_failures_unique",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="pair")
                    & ~models.Q(username="")
                    & ~models.Q(address="")
                )
                | (models.Q(scope="address", username="") & ~models.Q(address=""))
                | (models.Q(scope="username", address="") & ~models.Q(username="")),
                name="sign_in_failures_scope_fits",
            ),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.ADDRESS:
            return f"{self.failures} failed sign-ins from an address"
        where = "from an address" if self.scope == self.Scope.PAIR else "in all"
        return f"{self.failures} failed sign-ins for {self.username} {where}"
