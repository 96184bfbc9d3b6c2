"""Check and normalise what an inquiry says, before anything is stored.

Every door (API, web form, manual entry, CSV import) hands its fields to
`clean_lead`, so a lead is refused the same way everywhere: a
`ValidationError` whose `field` names the offending field. Text is kept as
typed (HTML included); pages escape it when they show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dealgate.core import countries
from dealgate.core.currencies import check_decimals, currency_problem, iso_currency
from dealgate.core.numbers import MAX_AMOUNT, read_number, read_whole
from dealgate.core.text import CONTROL, CONTROL_OR_BREAK, looks_blank, shown_json
from dealgate.errors import ValidationError

from . import normalize

# Longest accepted value per field, in characters (the columns' sizes).
LIMITS = {
    "name": 200,
    "email": 254,
    "phone": 40,
    "company": 200,
    "website": 200,
    "country": 2,
    "segment": 50,
    "source": 50,
    "currency": 3,
    "message": 5000,
    "external_id": 100,
}
TEXT_FIELDS = tuple(LIMITS)
# Fields a caller may send; anything else is refused so typos do not vanish.
ACCEPTED = (*TEXT_FIELDS, "company_size", "value", "pipeline")
MAX_VALUE = MAX_AMOUNT  # what a lead's value column holds
# Every amount is kept with two decimals (the column's NUMERIC(14, 2)).
CENT = Decimal("0.01")
MAX_COMPANY_SIZE = 10_000_000
# Control characters break logs and CSV exports, and PostgreSQL refuses NUL.


@dataclass
class CleanLead:
    """An inquiry's fields as typed (trimmed) with their comparison keys."""

    name: str = ""
    email: str = ""
    email_key: str = ""
    phone: str = ""
    phone_e164: str = ""
    company: str = ""
    company_key: str = ""
    company_block: str = ""
    website: str = ""
    domain: str = ""
    country: str = ""
    segment: str = ""
    company_size: int | None = None
    value: Decimal | None = None
    currency: str = ""
    message: str = ""
    source: str = ""
    external_id: str = ""
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def has_contact(self) -> bool:
        return bool(self.email_key or self.phone_e164)

    @property
    def company_match(self) -> str:
        """The first key its company's candidate leads share
        (normalize.company_matches)."""
        return normalize.company_match(self.company_key)

    @property
    def company_match_other(self) -> str:
        """The second such key, or "" (normalize.company_matches)."""
        return normalize.company_match_other(self.company_key)

    @property
    def company_match_typo(self) -> str:
        """Its company's typo block, or "" (normalize.company_typo_match)."""
        return normalize.company_typo_match(self.company_key)

    @property
    def label(self) -> str:
        parts = [part for part in (self.name, self.company) if part]
        return " · ".join(parts) or "an inquirer"

    def facts(self, channel: str) -> dict[str, Any]:
        """The fields routing rules test (dealgate.core.routing.FIELDS)."""
        return {
            "source": self.source,
            "channel": channel,
            "country": self.country,
            "segment": self.segment,
            "company_size": self.company_size,
            "value": self.value,
        }

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies value by value: every
        # field is text, a number or None but `custom`, a dict of those.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["custom"] = dict(self.custom)
        data["value"] = str(self.value) if self.value is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CleanLead:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("value") is not None:
            known["value"] = Decimal(known["value"])
        return cls(**known)


def clean_lead(
    data: Mapping[str, Any],
    *,
    region: str | None,
    currency: str = "",
    require_contact: bool = True,
    strict: bool = True,
    stored_phone: tuple[str, str] | None = None,
) -> CleanLead:
    """Check `data` and return the lead it describes, with its keys.

    Refuses (ValidationError naming the field): neither email nor phone
    (unless `require_contact` is off, for historic imports), an email,
    phone, website, country, size or value that does not read, a value
    longer than its limit, and control characters. With `strict`, fields
    outside ACCEPTED are refused too. Phone numbers without a country code
    are read in the lead's own country, else in `region` (an ISO code),
    except a number already stored: `stored_phone` (the number as typed,
    its key), when `data`'s phone is still that text, keeps that key and is
    not read again, so a country given since (or a new `region`) never
    changes or refuses it.
    A value's decimals are judged in the lead's currency, else in
    `currency` (the pipeline's), as `currencies.check_decimals` judges a
    deal's: "1000.50" is refused in JPY, "1.234" in KWD, naming it; with
    neither, more than two are refused.
    """
    if strict:
        for key in data:
            if key not in ACCEPTED:
                raise ValidationError(
                    f"{key} is not a lead field (known: {', '.join(ACCEPTED)})",
                    field=key,
                )
    texts = {key: _text(data, key) for key in TEXT_FIELDS}
    lead = CleanLead(
        name=texts["name"],
        email=texts["email"],
        phone=texts["phone"],
        company=texts["company"],
        website=texts["website"],
        segment=texts["segment"],
        message=texts["message"],
        source=texts["source"],
        external_id=texts["external_id"],
        country=_country(texts["country"]),
        currency=_currency(texts["currency"]),
        company_size=_whole(data.get("company_size")),
        value=_amount(data.get("value"), texts["currency"] or currency),
    )
    if lead.value is not None:
        lead.value = _in_places(lead.value, lead.currency or currency)
    _add_keys(lead, region, stored_phone)
    if require_contact and not lead.has_contact:
        raise ValidationError(
            "a lead needs an email address or a phone number to answer it on",
            field="email",
        )
    return lead


def _add_keys(
    lead: CleanLead, region: str | None, stored_phone: tuple[str, str] | None
) -> None:
    # Kept as typed otherwise, but never with a link's "mailto:", which the
    # key and a deal's contact drop too.
    lead.email = normalize.without_mailto(lead.email)
    try:
        lead.email_key = normalize.email_key(lead.email)
    except ValueError as exc:
        raise ValidationError(str(exc), field="email") from None
    _add_phone_key(lead, region, stored_phone)
    try:
        lead.website = normalize.website_url(lead.website)
        site = normalize.domain_key(lead.website)
    except ValueError as exc:
        raise ValidationError(str(exc), field="website") from None
    if len(lead.website) > LIMITS["website"]:
        raise ValidationError(
            f"website is {len(lead.website):,} characters long with https:// in "
            f"front; the limit is {LIMITS['website']:,}",
            field="website",
        )
    # A website on facebook.com or an address at hotmail.de names no company.
    lead.domain = normalize.website_domain(site)
    if not lead.domain and lead.email_key:
        lead.domain = normalize.email_domain(lead.email_key)
    lead.company_key = normalize.company_key(lead.company)
    lead.company_block = normalize.company_block(lead.company_key)


def _add_phone_key(
    lead: CleanLead, region: str | None, stored_phone: tuple[str, str] | None
) -> None:
    if stored_phone is not None and stored_phone[1] and lead.phone == stored_phone[0]:
        # Read when it was typed; its key is what de-duplication matches on.
        lead.phone_e164 = stored_phone[1]
        return
    # A number without its country code is read where the lead says it is:
    # "(212) 555-0123" from a US lead is New York, not a German number.
    read_in = lead.country or region
    try:
        lead.phone_e164 = normalize.phone_key(lead.phone, read_in)
    except ValueError as exc:
        where = f" (read as a number in {read_in})" if read_in else ""
        raise ValidationError(f"{exc}{where}", field="phone") from None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        # Every door hands text: a form and a file hold nothing else, and
        # the API refuses a number for a text field (`check_json_types`)
        # rather than store 5 as "5".
        raise ValidationError(f"{key} must be text, got {shown_json(value)}", field=key)
    # Counted as the browser that let it through counted it (normalize.line_breaks).
    text = normalize.line_breaks(str(value).strip())
    if looks_blank(text):
        # Only invisible characters (a zero-width space): nothing was said.
        return ""
    limit = LIMITS[key]
    # A country or a currency is read as a code (`_country`, `_currency`),
    # which says what it wants where a length would not ("Germany" is not 5
    # characters too many, nor "Euro" one).
    if len(text) > limit and key not in ("country", "currency"):
        raise ValidationError(
            f"{key} is {len(text):,} characters long; the limit is {limit:,}",
            field=key,
        )
    pattern = CONTROL if key == "message" else CONTROL_OR_BREAK
    if pattern.search(text):
        raise ValidationError(f"{key} contains control characters", field=key)
    return text


def check_json_types(data: Mapping[str, Any], *, size_as_text: bool = False) -> None:
    """Refuse, naming the field, a JSON body's lead field of a type its
    schema does not have: a text field holds a string (5 is not "5"),
    `company_size` a JSON integer ("3", 3.0 and true are not; with
    `size_as_text`, for a capture that hands on what a website's visitor
    typed, text as a form's is read too), and `value` a JSON number or text
    written as a number is typed (`_amount`); null empties any of them. A
    form and a file hold text only, and are read from text (`clean_lead`)."""
    for key, value in data.items():
        if value is None or key not in ACCEPTED:
            continue
        if key == "company_size":
            if size_as_text and isinstance(value, str):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(
                    f"company_size must be a JSON integer such as 40, got "
                    f"{shown_json(value)}",
                    field=key,
                )
        elif key == "value":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValidationError(
                    f'value must be a JSON number or text such as "1,250.50", '
                    f"got {shown_json(value)}",
                    field=key,
                )
        elif not isinstance(value, str):
            raise ValidationError(
                f"{key} must be a JSON string, got {shown_json(value)}", field=key
            )


def _country(text: str) -> str:
    try:
        return countries.country_code(text)
    except ValueError as exc:
        raise ValidationError(str(exc), field="country") from None


def _currency(text: str) -> str:
    """`text` as an ISO 4217 code ("" when none was given), read before the
    value, whose decimals it judges."""
    if not text:
        return ""
    problem = currency_problem(text)
    if problem:
        raise ValidationError(f"currency {problem}", field="currency")
    return iso_currency(text) or ""


def _whole(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(
            f"company_size must be a whole number of people, got {value!r}",
            field="company_size",
        )
    if isinstance(value, str):
        # Typed text reads by the rule every door shares: "1,2" is refused,
        # not read as 12.
        try:
            size = read_whole(value)
        except ValueError as exc:
            raise ValidationError(str(exc), field="company_size") from None
    else:
        size = value
    if size < 0:
        raise ValidationError(
            f"company_size must be a whole number of people, got {value!r}",
            field="company_size",
        )
    if size > MAX_COMPANY_SIZE:
        raise ValidationError(
            f"company_size {size:,} is more people than any company has",
            field="company_size",
        )
    return size


def _amount(value: Any, currency: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValidationError("value must be a number", field="value")
    if isinstance(value, str):
        # Typed text (a form, a file, a website posting what its visitor
        # typed) reads by the rule every door shares: "12,50" and "1.000"
        # are refused, never read as 1250 or 1.
        try:
            amount = read_number(value, places=2, currency=currency)
        except ValueError as exc:
            raise ValidationError(str(exc), field="value") from None
    else:
        # A JSON number keeps the text it was written with (api.parser's
        # JsonFloat): "0.1" is read exactly, and "1e3" is refused as the
        # same text typed in a string is.
        written = getattr(value, "written", None)
        if written is not None and "e" in written.lower():
            try:
                read_number(written)
            except ValueError as exc:
                raise ValidationError(str(exc), field="value") from None
        amount = Decimal(written if written is not None else str(value))
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise ValidationError(
            f"value must be from 0 to {MAX_VALUE:,}, got {value!r}", field="value"
        )
    return amount


def _in_places(amount: Decimal, currency: str) -> Decimal:
    """`amount` as stored, with two decimals, once its decimals are judged
    in `currency` (none: more than two are refused)."""
    if currency:
        check_decimals(amount, currency)
    if amount != amount.quantize(CENT):
        raise ValidationError(
            f"value {amount} has more than two decimal places", field="value"
        )
    return amount.quantize(CENT)
