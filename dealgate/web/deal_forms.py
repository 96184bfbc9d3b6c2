"""The deal page's forms (moving a deal, editing its fields) and the new-deal
form.

Plain Django templates post these; this module only reads what was posted
into the shapes `deals.services.move_deal`, `update_deal` and `create_deal`
take, and says in words what could not be read. The rules themselves live in
the services.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import QueryDict

from dealgate.accounts.models import User, choice_labels
from dealgate.core.currencies import amount_in, iso_currency
from dealgate.core.custom_fields import MAX_TEXT, CustomField, declared_fields
from dealgate.core.numbers import MAX_AMOUNT, read_number, too_large, too_small
from dealgate.core.text import blank_problem, optional_problem
from dealgate.deals import services
from dealgate.deals.idempotency import fingerprint
from dealgate.deals.models import TEXT_LIMITS, Deal, Organization
from dealgate.pipelines.models import Pipeline, active_stages


@dataclass
class EditField:
    """One input of the edit form, with the text it shows."""

    name: str  # "value", "custom:seats", "checklist:budget_confirmed"
    label: str
    kind: str  # text, number, date, bool, choice, check, long (a text area)
    value: str = ""
    choices: tuple[str, ...] = ()
    error: str = ""
    max_length: int | None = None  # what the service takes, for the input
    blank: bool = True  # a choice may be left unset ("no one", "not set")
    # A stored custom value the field no longer takes (a choice the pipeline
    # dropped, a number in what is now a choice field), as shown: offered
    # and kept as stored until the user picks or types another.
    kept: str = ""
    # What a choice shows, where that is not the value sent: a stage's name
    # for its key, a person's name for their username.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def options(self) -> list[tuple[str, str]]:
        """The choices as (value, shown) pairs, in the order offered."""
        return [(choice, self.labels.get(choice, choice)) for choice in self.choices]


@dataclass
class MoveTarget:
    key: str
    label: str


@dataclass
class EditResult:
    fields: list[EditField]
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why a closed deal is corrected, as typed

    @property
    def errors(self) -> list[str]:
        return [f"{f.label}: {f.error}" for f in self.fields if f.error]


def move_targets(deal: Deal) -> list[MoveTarget]:
    """Where the deal can be sent: the other open stages, won and lost. A
    won deal is not offered lost: it is reopened into a stage first."""
    targets = [
        MoveTarget(stage.key, stage.name)
        for stage in active_stages(deal.pipeline)
        if deal.status != Deal.Status.OPEN or stage.pk != deal.stage_id
    ]
    if deal.status != Deal.Status.WON:
        targets.append(MoveTarget(services.WON, "Won"))
    if deal.status == Deal.Status.OPEN:
        targets.append(MoveTarget(services.LOST, "Lost"))
    return targets


def edit_fields(deal: Deal, user: User) -> list[EditField]:
    """The edit form as the deal stands, for `user`: title, value, currency,
    expected close date, owner (the people `user` may give it to), the
    organization, notes, the pipeline's custom fields by type, and the
    checklist items rules read (plus any the deal already holds).

    On a closed deal the fields the figures read (`services.CLOSED_FIGURES`)
    are offered only to whom may correct them, with an input for the reason
    the correction is recorded with (`services.may_correct_closed`)."""
    fields = [
        EditField(
            "title",
            "Title",
            "text",
            deal.title,
            max_length=Deal._meta.get_field("title").max_length,
        ),
        EditField(
            "value",
            f"Value ({deal.currency})",
            "number",
            "" if deal.value is None else str(amount_in(deal.value, deal.currency)),
        ),
        EditField(
            "currency",
            "Currency (ISO 4217, e.g. EUR)",
            "text",
            deal.currency,
            # No maxlength: "Euro" is asked for as a code, not cut to "Eur".
        ),
        EditField(
            "expected_close_date",
            "Expected close date",
            "date",
            deal.expected_close_date.isoformat() if deal.expected_close_date else "",
        ),
        _owner_field(user, deal.owner),
        _organization_field(deal.organization.name if deal.organization else ""),
        EditField(
            "notes", "Notes", "long", deal.notes, max_length=TEXT_LIMITS["notes"]
        ),
    ]
    fields += _custom_inputs(deal.pipeline, deal.custom)
    items = services.checklist_items(deal.pipeline)
    items += [key for key in deal.checklist if key not in items]
    for key in items:
        ticked = "on" if deal.checklist.get(key) else ""
        fields.append(EditField(f"checklist:{key}", key, "check", ticked))
    if deal.status == Deal.Status.OPEN:
        return fields
    if not services.may_correct_closed(user):
        figures = set(services.CLOSED_FIGURES.values())
        return [f for f in fields if f.name not in figures]
    reason = EditField(
        "reason",
        "Reason for a correction (needed to change its value, currency, "
        "expected close date, owner or organization)",
        "text",
        max_length=TEXT_LIMITS["reason"],
    )
    return [reason, *fields]


def read_edit(deal: Deal, user: User, posted: QueryDict) -> EditResult:
    """The changes the posted edit form asks for, or the fields it got wrong.

    Numbers are read by one rule (`dealgate.core.numbers`): "12,50" is
    refused, never stored as 1250. A number sent back as the form showed it,
    custom values the pipeline no longer defines or no longer takes (a
    choice it dropped, sent back as shown) and checklist items the form does
    not show are kept as they are.
    """
    fields = edit_fields(deal, user)
    result = EditResult(fields)
    custom = dict(deal.custom)
    checklist = dict(deal.checklist)
    for f in fields:
        if f.name == "reason":
            # Not a field of the deal: the record of the edit keeps it.
            f.value = result.reason = posted.get("reason", "")
            continue
        shown = f.value
        # An unticked checkbox is not posted at all: absent means "not done".
        f.value = _typed(posted, f.name)
        if f.kind == "number" and f.value and f.value == shown:
            # Sent back as shown, so kept as stored: a number the API stored
            # (1.125) may read two ways when typed, and nobody retyped it.
            continue
        if f.kept and f.value == f.kept.strip():
            continue  # a value the field no longer takes, left as it was
        if f.name in ("owner", "organization", "currency", "notes") and (
            f.name not in posted or f.value == shown
        ):
            f.value = shown  # shown again as it stands if the form comes back
            continue  # not asked for, so not in the edit's record
        if f.name == "currency" and not f.value:
            # The service reads a code given and its decimals (core.currencies).
            f.error = "a deal needs a currency, such as EUR"
            continue
        if f.name == "notes":
            # Kept as typed, line breaks and all, as a new deal's; a text
            # area sends its lines back with CR LF, which is no change.
            f.value = posted[f.name]
            if _lines(f.value).strip() == _lines(shown).strip():
                continue
        try:
            parsed = _parse(f, posted.get("currency", "").strip() or deal.currency)
        except ValueError as error:
            f.error = str(error)
            continue
        if f.name.startswith("custom:"):
            key = f.name.removeprefix("custom:")
            if parsed is None:
                custom.pop(key, None)
            else:
                custom[key] = parsed
        elif f.name.startswith("checklist:"):
            checklist[f.name.removeprefix("checklist:")] = parsed
        else:
            result.changes[f.name] = parsed
    result.changes["custom"] = custom
    result.changes["checklist"] = checklist
    # The value is read in the currency the same save asks for, so its
    # label (and a refusal shown after it) names that one.
    code = iso_currency(posted.get("currency", ""))
    if code:
        for f in fields:
            if f.name == "value":
                f.label = f"Value ({code})"
    return result


# Inputs that may be left empty for none, and whose text, when given, must
# hold something visible (`core.text.optional_problem`). Custom fields read
# blank text as unset at every door (`custom_fields.is_unset`) instead.
_OPTIONAL = ("value", "expected_close_date", "owner", "organization")


def _typed(posted: QueryDict, name: str) -> str:
    """What was typed into the input `name`, without spaces at either end.
    An optional input of spaces alone stays as typed, to be refused as one
    of invisible characters is (`core.text.optional_problem`; the service
    refuses an organization): trimmed, it would read as empty and clear the
    deal's value unseen."""
    typed = posted.get(name, "")
    if name in _OPTIONAL and not typed.strip():
        return typed
    return typed.strip()


def _parse(f: EditField, currency: str) -> Any:
    text = f.value
    if f.kind == "check":
        return bool(text)
    if f.name == "title":
        problem = blank_problem(text, "", missing="a deal needs a title")
        if problem:
            raise ValueError(problem)
        if len(text) > 300:
            raise ValueError("at most 300 characters")
        return text
    if f.name.startswith("custom:"):
        # The API and imports check custom values with the same rules.
        key = f.name.removeprefix("custom:")
        return CustomField(key, f.label, f.kind, f.choices).from_text(text)
    if not text:
        return None
    if f.name in _OPTIONAL and f.name != "organization":
        # An organization is refused by the service, which asks for a name.
        problem = optional_problem(text, "")
        if problem is not None:
            raise ValueError(problem)
    if f.name == "value":
        return _amount(text, currency)
    if f.name == "expected_close_date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date like 2026-07-31") from None
    return text


def _amount(text: str, currency: str) -> Decimal:
    """A deal's value typed on a form, from 0 to MAX_AMOUNT, each bound
    named as the API and imports name it. Decimals past those stored, or
    the currency's, are refused by the deal service, naming the currency,
    as at every door; "1.234" in KWD is read as written for that rule."""
    number = read_number(text, places=2, currency=currency)
    if number > MAX_AMOUNT:
        raise ValueError(too_large(repr(text)))
    if number < 0:
        raise ValueError(too_small(repr(text)))
    return number


def _custom_inputs(pipeline: Pipeline, stored: dict[str, Any]) -> list[EditField]:
    """An input per custom field the pipeline declares, showing `stored`'s
    value (the deal's, or none on a new deal), marked `kept` where the field
    no longer takes it."""
    return [
        EditField(
            f"custom:{custom.key}",
            custom.label,
            custom.type,
            _shown(stored.get(custom.key)),
            custom.choices,
            max_length=MAX_TEXT if custom.type == "text" else None,
            kept=_no_longer_taken(custom, stored.get(custom.key)),
        )
        for custom in declared_fields(pipeline.custom_fields).values()
    ]


def _no_longer_taken(custom: CustomField, value: Any) -> str:
    """`value` as shown when `custom` would refuse it now (the pipeline
    changed since it was stored), else ""."""
    if value is None:
        return ""
    try:
        custom.checked(value)
    except ValueError:
        return _shown(value)
    return ""


def _owner_field(user: User, current: User | None) -> EditField:
    """The owner input as `user` may fill it (`services.owners_offered`, the
    rule the save checks), people named as every page names them, showing
    `current` (None for no one, a new deal's own owner otherwise)."""
    people, blank = services.owners_offered(user, current)
    labels = {person.username: label for person, label in choice_labels(people)}
    username = current.username if current else ""
    return EditField(
        "owner", "Owner", "choice", username, tuple(labels), blank=blank, labels=labels
    )


def _organization_field(name: str) -> EditField:
    limit = Organization._meta.get_field("name").max_length
    return EditField("organization", "Organization", "text", name, max_length=limit)


# The hidden input of the new-deal form holding its one-time token.
FORM_TOKEN = "form_token"


def new_form_token() -> str:
    """A token for one new-deal form, sent back with it: a form sent twice
    (a double click, a resend) makes one deal (`deals.idempotency`)."""
    return secrets.token_urlsafe(24)


@dataclass
class NewDeal:
    """The new-deal form: its inputs, what they ask `create_deal` for, and
    the form's one-time token with a fingerprint of what was posted."""

    fields: list[EditField]
    stage: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    request: str = ""

    @property
    def errors(self) -> list[str]:
        return [f"{f.label}: {f.error}" for f in self.fields if f.error]


def new_fields(pipeline: Pipeline, user: User) -> list[EditField]:
    """The new-deal form, empty: the person creating it as the owner, the
    pipeline's currency and its first open stage (the default)."""
    names = dict(active_stages(pipeline).values_list("key", "name"))
    stage_keys = tuple(names)
    fields = [
        EditField(
            "title",
            "Title",
            "text",
            max_length=Deal._meta.get_field("title").max_length,
        ),
        _organization_field(""),
        EditField("value", "Value", "number"),
        EditField(
            "currency",
            "Currency (ISO 4217, e.g. EUR)",
            "text",
            pipeline.currency,
        ),
        # A rep creates only deals they own (deals.services.check_may_create).
        _owner_field(user, user),
        EditField("expected_close_date", "Expected close date", "date"),
        EditField(
            "stage",
            "Stage",
            "choice",
            stage_keys[0] if stage_keys else "",
            stage_keys,
            labels=names,
        ),
        EditField("notes", "Notes", "long", max_length=TEXT_LIMITS["notes"]),
    ]
    return fields + _custom_inputs(pipeline, {})


def read_new(pipeline: Pipeline, user: User, posted: QueryDict) -> NewDeal:
    """What the posted new-deal form asks for, or the inputs it got wrong.
    An empty stage means the first; an empty owner, no one. The form's token
    is taken as sent ("" for none); `create_deal_once` checks it."""
    new = NewDeal(new_fields(pipeline, user))
    custom = {}
    for f in new.fields:
        f.value = _typed(posted, f.name)
        if f.name == "notes":
            # Kept as typed, line breaks and all; the service checks it.
            f.value = posted.get(f.name, "")
        try:
            parsed = _parse(f, posted.get("currency", "").strip() or pipeline.currency)
        except ValueError as error:
            f.error = str(error)
            continue
        if f.name.startswith("custom:"):
            if parsed is not None:
                custom[f.name.removeprefix("custom:")] = parsed
        elif f.name == "stage":
            new.stage = parsed or ""
        else:
            new.values[f.name] = parsed
    new.values["custom"] = custom
    new.values["notes"] = new.values.get("notes") or ""
    new.token = posted.get(FORM_TOKEN, "")
    sent = {name: posted.getlist(name) for name in posted if name not in _NOT_ASKED}
    # The pipeline comes in the address (?pipeline=), not the body: the same
    # token and inputs sent to another pipeline are another request.
    sent["?pipeline"] = [pipeline.key]
    new.request = fingerprint(sent)
    return new


# What a posted form carries besides what it asks for.
_NOT_ASKED = frozenset({"csrfmiddlewaretoken", FORM_TOKEN})


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _shown(stored: Any) -> str:
    if stored is None:
        return ""
    if isinstance(stored, bool):
        return "yes" if stored else "no"
    if isinstance(stored, float):
        # str() writes 0.00001 as 1e-05, which nobody would type.
        return format(Decimal(repr(stored)), "f")
    return str(stored)
