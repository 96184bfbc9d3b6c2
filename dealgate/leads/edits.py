"""Editing a lead's own fields: what the buyer told, corrected or completed.

`edit_lead` changes the fields an inquirer gives (name, email, phone,
company, website, country, segment, company size, value and currency),
never what the lead's history says (its message, source, channel, owner
or status). Every value is read as a capture reads it (`intake.clean_lead`)
and the de-duplication keys are written again with it, but a stored phone
number keeps the reading it was stored with until the phone is edited: its
key changes only when someone types the number.

The lead's version (`versions.lead_version`), which its page and the API
hand out and an edit sends back, holds a digest of each of these fields.
An edit made on an older copy is a `Conflict` naming the fields that
changed since (another edit, another person taking what a repeat inquiry
offered), and nothing is written: a change is never silently replaced. A
new owner or status since does not refuse an edit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.db import transaction

from dealgate.accounts.models import User
from dealgate.errors import Conflict, NotFound, ValidationError

from . import offers, services
from .intake import CleanLead, check_json_types, clean_lead
from .models import Lead
from .versions import EDITABLE, changed_since, is_version

log = logging.getLogger("dealgate.leads")

# The keys stored beside the fields, written again with every edit.
KEYS = ("email_key", "phone_e164", "company_key", "company_block", "domain")


def edit_lead(
    lead_id: int,
    changes: Mapping[str, Any],
    *,
    by: User | None,
    version: str,
    why: str = "",
    json_typed: bool = False,
) -> Lead:
    """Change the EDITABLE fields given in `changes` of an open lead, as its
    owner or a manager, on the copy read at `version`; returns the lead.

    Refuses, in this order: someone else (PermissionDenied), before
    anything they sent is looked at; a field that is not editable, no
    version, and a value a capture would refuse (ValidationError naming
    the field); a closed lead, and a lead whose fields changed since
    `version` (Conflict naming them). A stored phone number is read
    again only when the phone itself is edited (then in the lead's country
    as edited, else the pipeline's region): an edit of the country alone
    keeps its reading and key. An edit that changes nothing writes nothing;
    one that changes a field ends what repeat inquiries offered for it
    (`offers.lapse`). The log names the lead, the fields, who and `why`
    (where the values came from), never the values. With `json_typed`
    (the API's JSON body), a value of a type the field's schema does not
    have is refused with the values a capture refuses
    (`intake.check_json_types`: `{"name": 5}`, `"company_size": "3"`).
    """
    with transaction.atomic():
        lead = _locked(lead_id)
        services._may_change(lead, by, "edit it")
        _check_sent(changes, version)
        if json_typed:
            check_json_types(changes)
        if not lead.is_open:
            raise Conflict(
                f"lead {lead.pk} is {lead.status}; only an open lead can be edited"
            )
        # Its owner or status changing does not make an edit wrong.
        changed = changed_since(version, lead, EDITABLE)
        if changed:
            raise Conflict(
                f"lead {lead.pk} changed since you read it: {', '.join(changed)} "
                "changed meanwhile; read it again and redo your edit"
            )
        fields = _apply(lead, changes)
        if not fields:
            return lead
        Lead.objects.filter(pk=lead.pk).update(
            **{name: getattr(lead, name) for name in (*EDITABLE, *KEYS)},
            company_match=lead.company_match,
            company_match_other=lead.company_match_other,
            company_match_typo=lead.company_match_typo,
        )
        offers.lapse(lead.pk, fields)
        transaction.on_commit(
            partial(
                log.info,
                "lead %s edited by %s: %s%s",
                lead.pk,
                by.username if by is not None else "system",
                ", ".join(fields),
                f" ({why})" if why else "",
            )
        )
    return lead


def _check_sent(changes: Mapping[str, Any], version: str) -> None:
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(
            f"{unknown[0]} is not a field of a lead that can be edited "
            f"(editable: {', '.join(EDITABLE)})",
            field=unknown[0],
        )
    if not is_version(version):
        raise ValidationError(
            "version: send the version of the lead you read (its page's form "
            "holds it, GET /api/v1/leads/ID answers it)",
            field="version",
        )


def _locked(lead_id: int) -> Lead:
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("pipeline", "owner")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise NotFound(f"no lead with id {lead_id}")
    return lead


def _apply(lead: Lead, changes: Mapping[str, Any]) -> list[str]:
    """Read the lead with `changes` as a capture would, set what that gives
    on `lead` (fields and keys), and return the fields whose value changed."""
    data: dict[str, Any] = {name: getattr(lead, name) for name in EDITABLE}
    data.update(changes)
    # A value's decimals were judged when it was typed, in the pipeline's
    # currency then: one changed since judges a value or currency edited,
    # never refuses an edit of another field.
    judging = {"value", "currency"} & set(changes)
    clean = clean_lead(
        data,
        region=services.phone_region(lead.pipeline),
        currency=lead.pipeline.currency if judging else "",
        # An imported record of a past inquiry may lack both, as it came.
        require_contact=not lead.historic,
        # A number keeps the reading it was stored with until it is edited
        # itself: a country set since (by a person, or by a repeat inquiry
        # before repeats only offered their values) neither moves it abroad
        # nor refuses an edit of another field.
        stored_phone=(lead.phone, lead.phone_e164),
    )
    changed = [name for name in EDITABLE if getattr(clean, name) != getattr(lead, name)]
    for name in (*EDITABLE, *KEYS):
        setattr(lead, name, getattr(clean, name))
    lead.company_match = clean.company_match
    lead.company_match_other = clean.company_match_other
    lead.company_match_typo = clean.company_match_typo
    return changed


def empty_filled(lead_id: int, note: Mapping[str, Any] | None) -> list[str]:
    """Empty again, on the open lead `lead_id`, the fields a repeat inquiry
    filled (`note`, the data of its repeat-inquiry activity, lists them as
    `filled`) where the lead still holds exactly what the inquiry gave. Only
    notes written before repeats offered their values instead (`offers`)
    list any: those inquiries wrote into the lead themselves. A
    field edited since keeps its value. For a split of that inquiry, under
    the lead's lock; returns the fields emptied, with their keys written
    again. A value and its currency, filled together, go together."""
    filled = list((note or {}).get("filled") or [])
    if not filled:
        return []
    lead = _locked(lead_id)
    if not lead.is_open:
        return []  # a closed lead's fields are its history
    inquiry = CleanLead.from_json(note)
    same = [n for n in filled if getattr(lead, n) == getattr(inquiry, n)]
    if "value" in filled and "currency" in filled and {"value", "currency"} - set(same):
        same = [n for n in same if n not in ("value", "currency")]
    if not same:
        return []
    try:
        _apply(lead, dict.fromkeys(same))
    except ValidationError:
        return []  # emptied, the lead would not read (no contact left): kept
    Lead.objects.filter(pk=lead.pk).update(
        **{name: getattr(lead, name) for name in (*EDITABLE, *KEYS)},
        company_match=lead.company_match,
        company_match_other=lead.company_match_other,
        company_match_typo=lead.company_match_typo,
    )
    transaction.on_commit(
        partial(
            log.info,
            "lead %s: fields a split inquiry had filled emptied again: %s",
            lead.pk,
            ", ".join(same),
        )
    )
    return same
