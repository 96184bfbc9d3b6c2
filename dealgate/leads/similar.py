"""Open leads and deals a lead may be the same firm as, for a person to merge.

De-duplication joins a company name only to the same key
(`normalize.same_company`: case, punctuation, legal forms, transliteration
and word order aside). A name only close to another scores as one however
the two differ: a letter late in a word ("Schmidt Consulting", "Schmitt
Consulting", which share the prefix block `schm`), a vowel early ("Kaiser
Bau", "Keiser Bau", sharing `bau`), or a name's every distinctive word
misspelt early ("Simens", "Siemens"), which only the typo block
(`normalize.company_typo_match`) brings together. The name alone cannot
tell a misspelling from two firms ("Mertens Consulting" and "Martens
Consulting", "Becker" and "Bäcker"), and the two mistakes differ in cost: a
false join attaches one firm's first inquiry to another's lead as a repeat,
never routed (a lost buyer), while a missed join leaves a duplicate lead
that a person can merge. So such names never join (`dedup._company`); a
capture with more to go on (the same email, phone or company domain) joins
by that. What the blocks find that scores as one without being the same
name is shown on the lead's page as "Possibly the same as", each with a
button that merges the lead into it (`services.merge_lead`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from dealgate.deals.models import Deal

from . import normalize
from .models import Lead

# The most a lead's page lists; a block holds a few dozen names at most
# (docs/leads.md), and fewer still score as one.
MAX_SHOWN = 5
# How many of the open leads, and of the open deals, sharing a block with
# the lead are compared, newest first.
MAX_COMPARED = 200


@dataclass(frozen=True)
class Possible:
    """An open lead or deal (`kind`, `pk`) whose company name is like the
    lead's without being the same: what the page calls it (`name`), its
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
    """The open leads and deals whose company `lead` (an open one) may be:
    those sharing a block with it, a prefix block
    (`normalize.company_matches`, as de-duplication reads candidates) or
    its typo block, whose name is not the same as the lead's
    (`normalize.same_company`: de-duplication joined those, or a person
    split them off, or their company domains say two firms) and scores at
    least `normalize.COMPANY_MATCH_SCORE`. Closest first, then leads before
    deals, newest first; at most MAX_SHOWN. Two queries, one of leads and
    one of deals, each reading the block indexes; none for a lead not open
    or without blocks."""
    key = lead.company_key
    if not lead.is_open or not key:
        return []
    typo = lead.company_match_typo
    matches = list(normalize.company_matches(key))
    blocks = list(normalize.company_blocks(key))
    found = []
    sharing = Q(company_match__in=matches) | Q(company_match_other__in=matches)
    if typo:
        sharing |= Q(company_match_typo=typo)
    leads = (
        Lead.objects.filter(sharing, status__in=Lead.OPEN)
        .exclude(pk=lead.pk)
        .only("id", "name", "company", "company_key", "email", "phone")
        .order_by("-created_at", "-id")[:MAX_COMPARED]
    )
    for other in leads:
        score = _close_only(key, other.company_key)
        if score is not None:
            found.append(Possible("lead", other.pk, other.label, other.company, score))
    named = Q(organization__name_block__in=blocks) | Q(
        organization__name_block_other__in=blocks
    )
    if typo:
        named |= Q(organization__name_block_typo=typo)
    deals = (
        Deal.objects.filter(named, status=Deal.Status.OPEN)
        .order_by("-id")
        .values_list("pk", "title", "organization__name")[:MAX_COMPARED]
    )
    for pk, title, name in deals:
        score = _close_only(key, normalize.company_key(name))
        if score is not None:
            found.append(Possible("deal", pk, title, name, score))
    # Stable: of names scoring alike, leads before deals, newest first.
    found.sort(key=lambda possible: -possible.score)
    return found[:MAX_SHOWN]


def _close_only(key: str, other: str) -> float | None:
    """The score of company key `other` against `key` when the two are
    not the same name but score as one; else None."""
    if not other or normalize.same_company(key, other):
        return None
    score = normalize.company_score(key, other)
    return score if score >= normalize.COMPANY_MATCH_SCORE else None
