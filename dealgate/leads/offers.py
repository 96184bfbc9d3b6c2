"""What a repeat inquiry offers the open lead it joins: values for its
empty fields, which a person may take.

Every inquiry is anonymous: the web form needs no token, and a capture
token sits in a page anyone can read. A repeat cannot be told from a forged
one, so it never writes into the lead (a rep would call the number or
follow the link it planted, believing it the customer's). `dedup.attach`
keeps on the repeat-inquiry note the fields the lead lacked that the
inquiry brings (`offered_values`, as `data["offered"]`, with the channel);
`pending_offers` says which of them still stand. Both are judged by
`offer_values`, so that the note, the page, the API and a notice name the
same fields. `apply_offer` writes them as an ordinary edit by the person
who takes them (`edits.edit_lead`: version-checked, logged as their edit,
keys written again). An offer of a
field lapses once the field holds a value or is edited (`lapse`); a value
lapses with an edit of the currency it was judged in.

An offered phone is the number as the inquiry's capture read it (its
`phone_e164`: in the inquiry's own country, else the pipeline's region),
written with its country code (`as_captured`), and nothing else: the note,
the notice, the webhook, the page, the API and taking it all give that
one. Read again in the lead's country, "0664 1234567" from an Austrian
buyer would become a landline in Germany. Since only an edit of a field
ends its offer, the notes that offer something (`may_have_offers`) are
the leads whose `pending_offers` find some.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
)

from dealgate.accounts.models import User
from dealgate.errors import Conflict, NotFound, ValidationError

from . import normalize
from .intake import CleanLead
from .models import Lead, LeadActivity

# What a repeat offers where the lead has nothing: the company's fields
# always, the person's (name, email, phone) only when it matched on the
# person (`offered_values`): a colleague found by the company's domain or
# name is someone else. A value goes with its currency (`offer_values`).
COMPANY_FIELDS = ("company", "website", "country", "segment", "company_size")
PERSON_FIELDS = ("name", "email", "phone")
PERSON_SIGNALS = ("email", "phone")


@dataclass(frozen=True)
class Offer:
    """The values one repeat inquiry (its note, `inquiry`) still offers a
    lead, as an edit takes them, and when and through which channel it came."""

    inquiry: int
    at: dt.datetime
    channel: str
    values: dict[str, Any]


def offered_values(
    lead: Lead, inquiry: CleanLead, *, matched_on: str
) -> dict[str, Any]:
    """What `inquiry` offers `lead` (as read under its lock) as it joins it,
    field by field: those the lead lacks and the inquiry brings, the
    person's only when it matched on the person, as `offer_values` judges
    them (a phone as its capture read it, a value only in the lead's currency
    or with its currency when the lead names none). What the note lists and
    keeps (`note_data`) and the notice names, so that they say what the
    page and the API show."""
    fields: tuple[str, ...] = COMPANY_FIELDS
    if matched_on in PERSON_SIGNALS:
        fields = (*PERSON_FIELDS, *COMPANY_FIELDS)
    return offer_values(lead, inquiry, (*fields, "value", "currency"))


def note_data(values: dict[str, Any]) -> dict[str, Any]:
    """What a repeat-inquiry note keeps of the `offered_values` it was made
    with, besides the inquiry: the fields offered, and the phone offered
    (`as_captured`), kept for notes whose inquiry holds no reading of its
    own. Empty when it offers none."""
    if not values:
        return {}
    data: dict[str, Any] = {"offered": list(values)}
    if "phone" in values:
        data["offered_phone"] = values["phone"]
    return data


def offering(offered: Iterable[str]) -> str:
    """The sentence of a note or notice naming the fields `offered`, or ""
    when it offers none."""
    names = ", ".join(offered)
    return f"Offers values for the lead's empty fields: {names}" if names else ""


def _empty(value: Any) -> bool:
    return value in ("", None)


# The leads offers are shown for: an open one. A closed lead (disqualified,
# converted, merged) is offered nothing, whatever its notes still hold; the
# one rule for `pending_offers` and `may_have_offers`.
OFFERED_TO = Lead.OPEN


def pending_offers(lead: Lead) -> list[Offer]:
    """What the repeat inquiries on `lead` still offer, oldest first: none
    on a lead that is not open (`OFFERED_TO`). One query (the inquiry notes
    with offers). `lead` needs its pipeline (the region a phone is read in)."""
    if lead.status not in OFFERED_TO:
        return []
    notes = offer_notes(lead.pk).order_by("at", "id").values_list("pk", "at", "data")
    offers = []
    for pk, at, data in notes:
        values = _pending(lead, data)
        if values:
            offers.append(Offer(pk, at, data.get("channel", ""), values))
    return offers


def may_have_offers() -> ExpressionWrapper:
    """For a query over leads: whether `pending_offers` may find offers on
    the lead, without reading them (a subquery, no query of its own): an
    open lead (`OFFERED_TO`) with a repeat-inquiry note that offers
    something. False means `pending_offers` answers none."""
    return ExpressionWrapper(
        Q(status__in=OFFERED_TO) & Exists(offer_notes(OuterRef("pk"))),
        output_field=BooleanField(),
    )


def offer_notes(lead_id: Any) -> QuerySet[LeadActivity]:
    """The repeat-inquiry notes of lead `lead_id` (an id or an expression)
    that offer something, pending or not."""
    return LeadActivity.objects.filter(
        lead_id=lead_id, kind=LeadActivity.Kind.INQUIRY, data__has_key="offered"
    )


def _pending(lead: Lead, data: dict[str, Any]) -> dict[str, Any]:
    """The values of the note `data` whose fields `lead` still lacks, its
    phone as the inquiry's capture read it; a note whose inquiry kept no
    reading gives the phone it was offered with (`note_data`)."""
    inquiry = CleanLead.from_json(data)
    offered = data.get("offered") or []
    phone = as_captured(inquiry) or data.get("offered_phone", "")
    return offer_values(lead, inquiry, offered, phone=phone)


def as_captured(inquiry: CleanLead) -> str:
    """The inquiry's number as its capture read it (`phone_e164`, read in
    the inquiry's country, else the pipeline's region), with its country
    code ("+43 664 1234567"): the one phone an inquiry offers, wherever it
    is shown or taken; "" for none."""
    if not inquiry.phone_e164:
        return ""
    try:
        return normalize.phone_international(inquiry.phone_e164, None)
    except ValueError:
        return ""


def offer_values(
    lead: Lead,
    inquiry: CleanLead,
    fields: Iterable[str],
    *,
    phone: str | None = None,
) -> dict[str, Any]:
    """What `inquiry` offers `lead` of `fields`, as a person would take it:
    the one place that decides it, for the note made when the inquiry joins
    (`offered_values`), the page, the API and taking it (`pending_offers`).
    A field the lead holds, or the inquiry lacks, is not offered; a phone
    is offered as its capture read it (`as_captured`), or as `phone` gives
    it ("": none); a value is offered in the lead's currency, or with its
    own when the lead names none, and never without it."""
    names = [name for name in fields if hasattr(inquiry, name)]
    values = {
        name: getattr(inquiry, name)
        for name in names
        if name not in ("value", "currency")
        and _empty(getattr(lead, name))
        and not _empty(getattr(inquiry, name))
    }
    if "phone" in values:
        phone = as_captured(inquiry) if phone is None else phone
        if phone:
            values["phone"] = phone
        else:
            del values["phone"]
    if "value" not in names or lead.value is not None or inquiry.value is None:
        return values
    if lead.currency == inquiry.currency:
        values["value"] = inquiry.value
    elif "currency" in names and not lead.currency:
        values["value"], values["currency"] = inquiry.value, inquiry.currency
    return values


def apply_offer(
    lead_id: int,
    inquiry_id: int,
    *,
    by: User | None,
    version: str,
    fields: Iterable[str] = (),
) -> Lead:
    """Take the values the repeat inquiry `inquiry_id` still offers lead
    `lead_id` (only those of `fields`, when given) as an edit by `by` on the
    lead as read at `version` (`edits.edit_lead`, which refuses as an edit
    does), a phone as the inquiry's capture read it.
    Refuses someone who may not edit the lead first (PermissionDenied); a
    name no offer can hold (ValidationError); an inquiry that is not the
    lead's (NotFound), or offers none of them (Conflict, naming what it
    still offers: one never offered cannot be told from one that lapsed)."""
    # Imported here: both import this module (through dedup, for services).
    from .edits import edit_lead
    from .services import _may_change

    lead = Lead.objects.select_related("pipeline", "owner").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"no lead with id {lead_id}")
    _may_change(lead, by, "edit it")
    wanted = set(fields)
    _refuse_unknown(wanted)
    offer = next((o for o in pending_offers(lead) if o.inquiry == inquiry_id), None)
    if "value" in wanted:
        wanted.add("currency")  # offered together, taken together
    values = {
        name: value
        for name, value in (offer.values.items() if offer else ())
        if not wanted or name in wanted
    }
    if not values and offer is not None and offer.values:
        # It offers other fields: say which, since the ones asked for may
        # never have been offered as well as have lapsed.
        raise Conflict(
            f"repeat inquiry {inquiry_id} offers lead {lead_id} nothing of "
            f"{', '.join(sorted(wanted))}: it never offered that, or the lead's "
            f"field was filled or edited since; it offers "
            f"{', '.join(offer.values)}"
        )
    if not values:
        _refuse_none(lead_id, inquiry_id)
    changes = {k: "" if v is None else str(v) for k, v in values.items()}
    return edit_lead(
        lead_id,
        changes,
        by=by,
        version=version,
        why=f"taken from repeat inquiry {inquiry_id}",
    )


def lapse(lead_id: int, fields: Iterable[str]) -> None:
    """End the offers of `fields` on lead `lead_id`: an edit of a field
    decides it, and an offer made before is no longer the lead's to show.
    A value goes with the currency: it was offered as judged in the lead's
    currency, or with its own, and an edit of either ends both. Called by
    an edit, under the lead's lock."""
    gone = set(fields)
    if not gone:
        return
    if gone & {"value", "currency"}:
        gone |= {"value", "currency"}
    notes = offer_notes(lead_id).values_list("pk", "data")
    for pk, data in notes:
        offered = [name for name in data["offered"] if name not in gone]
        if len(offered) == len(data["offered"]):
            continue
        data = {**data, "offered": offered}
        if "phone" not in offered:
            data.pop("offered_phone", None)
        if not offered:
            del data["offered"]
        LeadActivity.objects.filter(pk=pk).update(data=data)


def _refuse_none(lead_id: int, inquiry_id: int) -> None:
    note = LeadActivity.objects.filter(
        pk=inquiry_id, lead_id=lead_id, kind=LeadActivity.Kind.INQUIRY
    )
    if not note.exists():
        raise NotFound(f"lead {lead_id} has no repeat inquiry {inquiry_id}")
    raise Conflict(
        f"repeat inquiry {inquiry_id} offers lead {lead_id} nothing (any more): "
        "the fields it offered were filled or edited since"
    )


def _refuse_unknown(fields: Iterable[str]) -> None:
    """Refuse a field name an offer cannot hold (ValidationError naming it)."""
    known = (*PERSON_FIELDS, *COMPANY_FIELDS, "value", "currency")
    for name in fields:
        if name not in known:
            raise ValidationError(
                f"field: {name!r} is not a field an inquiry offers "
                f"(one of {', '.join(known)})",
                field="field",
            )
