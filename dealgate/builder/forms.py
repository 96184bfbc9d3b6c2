"""The builder's forms. They check what a form can check (types, ranges);
the edits in `dealgate.builder.edits` check the rest and name the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.text import slugify

from dealgate.accounts.models import Team, User, by_display_name
from dealgate.core.currencies import amount_problem, currency_problem, iso_currency
from dealgate.core.numbers import read_number
from dealgate.core.pipeline_file import (
    CRITERIA_MODES,
    DEAL_OWNER,
    LEAD,
    MAX_AGE_LIMIT_DAYS,
    STAGE_OWNER,
    CustomFieldSpec,
    PipelineSpec,
)
from dealgate.errors import DealgateError

from . import rules
from .breach import action_choices


class TypedNumber:
    """Reads what was typed by the rule every door shares (see
    `dealgate.core.numbers`) before Django's own checks of type and range:
    alone, Django reads "1.000" in a whole-number field as 1."""

    places: int | None = None  # the decimals the field holds, for messages
    # An amount's currency, when known: "1.234" in KWD is 1.234, refused for
    # its decimals as the deal page refuses it, never offered as 1234.
    currency: str | None = None

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                number = read_number(value, places=self.places, currency=self.currency)
            except ValueError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from None
            if self.currency is not None:
                problem = amount_problem(number, self.currency)
                if problem is not None:
                    raise forms.ValidationError(problem, code="invalid")
                # Trailing zeros are no decimals: "1.500" dinars is 1.50.
                number = number.quantize(Decimal("0.01"))
            value = format(number, "f")
        return super().to_python(value)


class WholeNumberField(TypedNumber, forms.IntegerField):
    """Days, percents: "1,200" is 1200; "1.000" is refused, not read as 1."""

    places = 0


class DecimalNumberField(TypedNumber, forms.DecimalField):
    """An amount: "18,500.50" is 18500.50, as on the deal page; "12,50" is
    refused."""

    @property
    def places(self) -> int | None:
        return self.decimal_places


class FractionField(TypedNumber, forms.FloatField):
    """A share such as 0.4, read by the same rule."""


def people_and_teams() -> list[tuple[str, str]]:
    """Each active person and each team as an owner choice (two queries). A
    page that builds many forms reads them once and hands them to each."""
    choices = [
        (f"user:{u.username}", u.display_name)
        for u in by_display_name(User.objects.filter(is_active=True))
    ]
    return choices + [
        (f"team:{t.name}", f"Team {t.name}") for t in Team.objects.order_by("name")
    ]


def owner_choices(
    current: str = "",
    *,
    stage_owner: bool = False,
    offered: list[tuple[str, str]] | None = None,
) -> list:
    """Who may own a stage (or answer a handoff): the deal's owner, each
    active person, each team (`offered`, read from the database when not
    given). `current` is kept even when no longer offered."""
    choices = [(DEAL_OWNER, "The deal's owner")]
    if stage_owner:
        choices.insert(0, (STAGE_OWNER, "The stage's owner"))
    choices += people_and_teams() if offered is None else offered
    if current and current not in dict(choices):
        choices.append((current, current))
    if not current and not stage_owner:
        choices.insert(0, ("", "No owner yet"))
    return choices


def add_error(form: forms.Form, error: DealgateError) -> None:
    """Show a service error on the field it names, else on the whole form
    (with its code, so a conflict can be told from other refusals)."""
    field = error.field if error.field in form.fields else None
    # At a field its label names it; on the whole form the message must.
    message = error.detail if field else error.message
    form.add_error(field, forms.ValidationError(message, code=error.code))


class NewPipelineForm(forms.Form):
    name = forms.CharField(max_length=200)
    key = forms.CharField(
        max_length=50,
        required=False,
        help_text="Lowercase letters, digits, - and _; made from the name if empty.",
    )
    timezone = forms.CharField(max_length=64, initial=settings.TIME_ZONE)

    def clean_key(self) -> str:
        return self.cleaned_data["key"].strip() or slugify(self.data.get("name", ""))


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Read as every door reads a currency ("eur" is EUR); no maxlength, so
    # "Euro" is asked for as a code rather than cut to "Eur".
    currency = forms.CharField(max_length=100)
    allow_skipping = forms.BooleanField(required=False)
    bottleneck_share = FractionField(min_value=0.01, max_value=1)
    timezone = forms.CharField(max_length=64)

    def clean_currency(self) -> str:
        text = self.cleaned_data["currency"]
        problem = currency_problem(text)
        if problem:
            raise forms.ValidationError(problem[0].upper() + problem[1:])
        return iso_currency(text) or ""


def _range_messages(text: str) -> dict[str, str]:
    """One message, naming the field, for a number out of range or not whole
    (Django's own name neither the field nor what it holds)."""
    return {"min_value": text, "max_value": text, "invalid": text}


class StageFields(forms.Form):
    name = forms.CharField(max_length=200)
    buyer_action = forms.CharField(max_length=300, required=False)
    owner = forms.ChoiceField(required=False)
    age_limit_days = WholeNumberField(
        min_value=1,
        max_value=MAX_AGE_LIMIT_DAYS,
        required=False,
        error_messages=_range_messages(
            f"the age limit is a whole number of business days from 1 to "
            f"{MAX_AGE_LIMIT_DAYS}"
        ),
    )
    probability = WholeNumberField(
        min_value=0,
        max_value=100,
        required=False,
        error_messages=_range_messages(
            "the probability is a whole percentage from 0 to 100"
        ),
    )

    def __init__(
        self,
        *args,
        owner: str = "",
        offered: list[tuple[str, str]] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices(owner, offered=offered)

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["probability"] = data.get("probability") or 0
        return data


class AddStageForm(StageFields):
    key = forms.CharField(max_length=50, required=False)

    def clean_key(self) -> str:
        return self.cleaned_data["key"].strip() or slugify(self.data.get("name", ""))


class StageForm(StageFields):
    exit_criteria_mode = forms.ChoiceField(
        choices=[(mode, mode) for mode in CRITERIA_MODES]
    )
    breach_default = forms.BooleanField(required=False)
    on_breach = forms.MultipleChoiceField(
        choices=action_choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class CriterionForm(forms.Form):
    kind = forms.ChoiceField(choices=rules.KINDS)
    label = forms.CharField(max_length=300, required=False)
    field = forms.ChoiceField(required=False)
    checkbox = forms.CharField(max_length=50, required=False)
    activity = forms.ChoiceField(choices=rules.ACTIVITY_KINDS, required=False)
    tag = forms.CharField(max_length=50, required=False)
    amount = DecimalNumberField(max_digits=14, decimal_places=2, required=False)
    rule = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self,
        *args,
        custom: tuple[CustomFieldSpec, ...] = (),
        currency: str | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.custom = custom
        self.fields["field"].choices = rules.field_choices(custom)
        self.fields["amount"].currency = currency

    def choice(self) -> rules.Choice:
        data = self.cleaned_data
        return rules.Choice(
            kind=data["kind"],
            label=data["label"],
            field=data["field"],
            checkbox=data["checkbox"],
            activity=data["activity"],
            tag=data["tag"],
            amount=data["amount"],
            rule=data["rule"],
        )


class CriterionEditForm(forms.Form):
    label = forms.CharField(
        max_length=300,
        error_messages={"required": "a criterion needs a label people read"},
    )
    rule = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "a criterion needs a rule"},
    )


class HandoffForm(forms.Form):
    """One handoff; an empty window removes it. `offered` is
    `people_and_teams()`, read once for a table of these forms."""

    start = forms.CharField(widget=forms.HiddenInput)
    end = forms.CharField(widget=forms.HiddenInput)
    window = forms.CharField(max_length=20, required=False)
    responsible = forms.ChoiceField()

    def __init__(
        self,
        *args,
        responsible: str = STAGE_OWNER,
        offered: list[tuple[str, str]] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["responsible"].choices = owner_choices(
            responsible, stage_owner=True, offered=offered
        )


class AddHandoffForm(HandoffForm):
    start = forms.ChoiceField()
    end = forms.ChoiceField()

    def __init__(self, *args, spec: PipelineSpec, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stages = [(s.key, s.name or s.key) for s in spec.stages]
        self.fields["start"].choices = [(LEAD, "A new lead"), *stages]
        self.fields["end"].choices = stages


class FileForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 30, "cols": 88}))
