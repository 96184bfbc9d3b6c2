"""Open leads and deals a lead may be the same firm as, for a person to merge.

The typo block (`normalize.company_typo_match`: a name's first distinctive
word as its first letter and its other consonants) meets names whose every
distinctive word is misspelt early ("Simens", "Siemens"), but as well two
firms whose names differ by a vowel ("Mertens Consulting" and "Martens
Consulting", "Becker" and "Bäcker"), and their names score alike. The name
alone cannot tell them apart, and the two mistakes differ in cost: a false
join attaches one firm's first inquiry to another's lead as a repeat, never
routed (a lost buyer), while a missed join leaves a duplicate lead that a
person can merge. So de-duplication never joins by the typo block
(`dedup.leads_query`); a capture with more to go on (the same email, phone
or company domain) joins by that. What the typo block alone finds is shown
on the lead's page as "Possibly the same as", each with a button that
merges the lead into it (`services.merge_lead`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dealgate.deals.models import Deal

from . import normalize
from .models import Lead

# The most a lead's page lists; a typo block holds a few dozen names at most
# (docs/leads.md), and fewer still score as one.
MAX_SHOWN = 5
# How many of a typo block's open leads and deals are compared, newest first.
MAX_COMPARED = 200


@dataclass(frozen=True)
class Possible:
    """An open lead or deal (`kind`, `pk`) whose company name is like the
    lead's by its typo block only: what the page calls it (`name`), its
    company's name, and their similarity (`normalize.company_score`)."""

    kind: str
    pk: int
    name: str
    company: str
    score: float

    @property
    def into(self) -> str:
        """It as the lead page's merge form names it ("lead 12", "deal 7")."""
        return f"{self.kind} {self.pk}"


def possibly_same(lead: Lead) -> list[Possible]:
    """The open leads and deals whose company `lead` (an open one) may be,
    found only by its typo block: those sharing it, sharing no block of
    `normalize.company_blocks` (de-duplication compared those, and joined
    them or a person split them off), and scoring at least
    `normalize.COMPANY_MATCH_SCORE`, as a join by name would need. Closest
    first, then leads before deals, newest first; at most MAX_SHOWN. Two
    queries; none for a lead not open or whose name has no typo block."""
    typo = lead.company_match_typo
    if not lead.is_open or not typo:
        return []
    key = lead.company_key
    blocks = set(normalize.company_blocks(key))
    found = []
    leads = (
        Lead.objects.filter(company_match_typo=typo, status__in=Lead.OPEN)
        .exclude(pk=lead.pk)
        .only("id", "name", "company", "company_key", "email", "phone")
        .order_by("-created_at", "-id")[:MAX_COMPARED]
    )
    for other in leads:
        score = _typo_only(key, blocks, other.company_key)
        if score is not None:
            found.append(Possible("lead", other.pk, other.label, other.company, score))
    deals = (
        Deal.objects.filter(status=Deal.Status.OPEN, organization__name_block_typo=typo)
        .order_by("-id")
        .values_list("pk", "title", "organization__name")[:MAX_COMPARED]
    )
    for pk, title, name in deals:
        score = _typo_only(key, blocks, normalize.company_key(name))
        if score is not None:
            found.append(Possible("deal", pk, title, name, score))
    # Stable: of names scoring alike, leads before deals, newest first.
    found.sort(key=lambda possible: -possible.score)
    return found[:MAX_SHOWN]


def _typo_only(key: str, blocks: set[str], other: str) -> float | None:
    """The score of company key `other` against `key` (whose blocks are
    `blocks`) when only their typo block brings them together and they
    score as one; else None."""
    if not other or blocks & set(normalize.company_blocks(other)):
        return None
    score = normalize.company_score(key, other)
    return score if score >= normalize.COMPANY_MATCH_SCORE else None
