"""The admin's forms for people and teams, saved through the services that
`dealgate user` and `dealgate team` use (dealgate.accounts.services).

The admin shows a refusal beside its field only from the form's validation,
so each form makes its change there, once every other check passed, inside
the transaction the admin holds for the whole request (as the deal form
does, dealgate.deals.admin); the admin's save then has nothing left to
write. What the change did besides (a team left without its manager) is kept
in `notes`, which the admin shows as messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.forms import UserChangeForm
from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue

from dealgate.errors import DealgateError

from . import services
from .handover import HandOverNeeded, stages_owned_by, still_named_by
from .models import Team, User, choice_labels

# The change form's fields, and the keyword `services.change_user` takes each
# under. The username is not among them: handoffs, routing rules, pipeline
# files and sign-in locks name people by it, so it is never renamed here.
CHANGED_BY_SERVICE = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "role": "role",
    "team": "team",
    "is_active": "active",
    "calendar": "calendar",
}


def _team_name(team: Team | None) -> str:
    return team.name if team else ""


def _led_by(user: User) -> set[str]:
    return set(Team.objects.filter(manager=user).values_list("name", flat=True))


def _refusal_field(refused: DealgateError, fields: dict[str, Any]) -> str | None:
    """The form field a service's refusal belongs beside, if the form has it
    (under the service's name for it, or the admin's)."""
    name = refused.field or ""
    if name in fields:
        return name
    name = {"active": "is_active", "password": "password1"}.get(name, name)
    return name if name in fields else None


class ThroughService:
    """A form saved by a service once Django's own checks pass: the service
    checks again as the command line's does, and its refusal is shown at
    the field it names. `notes` are what the page should say after saving."""

    notes: list[str]
    is_bound: bool
    errors: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        self.notes = []
        if self.is_bound and not self.errors:
            self.through_service()

    def through_service(self) -> None:
        raise NotImplementedError


class _ByName(ModelChoiceIterator):
    """The people of a choice by name (`choice_labels`), not in the
    queryset's order: read whole, since the order is the names'."""

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for person, label in choice_labels(self.queryset):
            yield (
                ModelChoiceIteratorValue(self.field.prepare_value(person), person),
                label,
            )


class PersonChoiceField(forms.ModelChoiceField):
    """A choice of one person, listed as the product's other choices of
    people are: by full name, sorted by it, the username only where two
    share a name. What is posted is still the username (`to_field_name`)."""

    iterator = _ByName


class UserChangeThroughService(ThroughService, UserChangeForm):
    """A person's change page: saved by `services.change_user`, which checks
    each field as `dealgate user set` does and stops a person who is
    deactivated, made a rep or moved to another team from leading a team.
    Unticking Active for someone who still holds work is refused beside
    "Hand over to", which names who takes it (`user set --hand-to`)."""

    # The person signed in, set by the admin (DealgateUserAdmin.get_form).
    by: User | None = None

    hand_to = PersonChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        label="Hand over to",
        to_field_name="username",
        help_text="With Active unticked: who takes over their open deals, open "
        "leads, running clocks and open tasks. Closed deals keep their owner.",
    )

    class Meta(UserChangeForm.Meta):
        model = User
        fields = ("password", *CHANGED_BY_SERVICE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The names reach the service as typed: it tidies them, and refuses
        # one of spaces alone, which Django's trimming would make "none".
        for name in ("first_name", "last_name"):
            self.fields[name].strip = False
        # No one takes over their own work (handover.check_successor): the
        # list leaves the person out rather than offer what saving refuses.
        hand_to = self.fields["hand_to"]
        hand_to.queryset = hand_to.queryset.exclude(pk=self.instance.pk)

    def through_service(self) -> None:
        person = User.objects.get(pk=self.instance.pk)
        changes = {
            CHANGED_BY_SERVICE[name]: self.cleaned_data[name]
            for name in self.changed_data
            if name in CHANGED_BY_SERVICE
        }
        successor = self.cleaned_data.get("hand_to")
        if successor is not None:
            changes["hand_to"] = successor.username
        if not changes:
            return
        if "team" in changes:
            changes["team"] = _team_name(changes["team"])
        led = _led_by(person)
        try:
            changed = services.change_user(person.username, by=self.by, **changes)
        except HandOverNeeded as refused:
            self.add_error(
                "hand_to",
                f"{refused.username} still holds {refused.held}: choose who takes "
                "them over here, then save again (or hand each over on its page "
                "first).",
            )
            self._stages_of_the_inactive(person, changes)
            return
        except DealgateError as refused:
            # Beside "Hand over to", its key would only repeat the label.
            shown = refused.detail if refused.field == "hand_to" else refused.message
            self.add_error(_refusal_field(refused, self.fields), shown)
            self._stages_of_the_inactive(person, changes)
            return
        self.notes = [
            f"Team {name} has no manager now: {person.username} no longer leads "
            f"it. Give it one on its page, or: dealgate team set {name!r} "
            "--manager USERNAME"
            for name in sorted(led - _led_by(person) - set(changed.handed_over.teams))
        ]
        if not changed.is_active:
            self.notes.extend(still_named_by(person))
        if successor is not None:
            # The admin capitalizes a message's first letter: "handed" it is.
            self.notes.append(
                f"Handed over from {person.username} to {successor.username}: "
                f"{changed.handed_over}."
            )

    def _stages_of_the_inactive(self, person: User, changes: dict) -> None:
        """On a refusal, the stages still owned by `person` when they are
        inactive or were to become so, at "Active": a refusal page shows no
        messages, and the stage gives them deals either way."""
        if changes.get("active", person.is_active):
            return
        for line in stages_owned_by(person):
            self.add_error("is_active", line[0].upper() + line[1:] + ".")


class UserAddThroughService(ThroughService, forms.ModelForm):
    """A new person, added by `services.add_user` as `dealgate user add`
    adds one: a username nobody has (whatever its case), a role, a password
    of at least services.MIN_PASSWORD characters typed twice."""

    username = forms.CharField(
        max_length=150,
        help_text="What they sign in with; handoffs and routing rules name them "
        "by it (user:USERNAME). It is not changed later.",
    )
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.REP)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False
    )
    # Not trimmed: the service tidies the name, and refuses one of spaces alone.
    name = forms.CharField(
        required=False,
        max_length=300,
        strip=False,
        help_text='Their full name, "First Last".',
    )
    email = forms.CharField(
        required=False, max_length=254, help_text="Where their notices are mailed."
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least {services.MIN_PASSWORD} characters.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first, again = cleaned.get("password1"), cleaned.get("password2")
        if first is not None and again is not None and first != again:
            self.add_error("password2", "The two passwords differ.")
        return cleaned

    def through_service(self) -> None:
        cleaned = self.cleaned_data
        try:
            self.instance = services.add_user(
                cleaned["username"],
                role=cleaned["role"],
                password=cleaned["password1"],
                team=_team_name(cleaned["team"]) or None,
                email=cleaned["email"],
                name=cleaned["name"],
            )
        except DealgateError as refused:
            self.add_error(_refusal_field(refused, self.fields), refused.message)


class TeamThroughService(ThroughService, forms.ModelForm):
    """A team's page: added by `services.add_team` and given a manager by
    `services.change_team`, as `dealgate team add` and `team set` do: the
    manager is an active manager or admin, who joins the team and stops
    leading any other. Its name is not changed once it is added: handoffs and
    routing rules name it (team:NAME)."""

    class Meta:
        model = Team
        fields = ("name", "manager")

    def through_service(self) -> None:
        manager = self.cleaned_data.get("manager")
        username = manager.username if manager else ""
        try:
            if self.instance.pk is None:
                self.instance = services.add_team(
                    self.cleaned_data["name"], manager=username or None
                )
            elif "manager" in self.changed_data:
                self.instance = services.change_team(
                    self.instance.name, manager=username
                )
        except DealgateError as refused:
            name = refused.field if refused.field in self.fields else None
            self.add_error(name, refused.message)
