"""Find the open lead or deal an inquiry repeats, and join it there.

Signals, strongest first: the same email key (`normalize.email_key`), the
same phone number, the same company web domain (a mailbox provider's never
counts), and the same company name once legal forms and case are dropped,
in any word order (`normalize.same_company`). A name only close to another
("Keiser Bau", "Kaiser Bau") never joins: it is shown on the lead's page
for a person to merge (`similar`). A
lead counts while it is open, or converted into a deal that is still open; a
deal counts while it is open, by its contact's email key or its
organization. A company name never joins two records whose company domains
say they are two firms (`normalize.other_firms`). A lead merged into another
lead or a deal still leads there by its email and phone (`merged_query`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from dealgate.accounts.models import User
from dealgate.clocks import bulk
from dealgate.core.text import cut
from dealgate.deals.models import Activity, Deal, Organization, Person
from dealgate.pipelines.models import Pipeline

from . import normalize, offers
from .intake import CleanLead
from .models import DedupDecision, Lead, LeadActivity, LeadNotice

log = logging.getLogger("dealgate.leads")

# Enough to compare against; a block word shared by more open records than
# this ("global", "digital") is too common to say much on its own.
MAX_CANDIDATES = 200
# The longest chain of merges followed (A into B, B into C): a merge goes
# into an open lead only, so chains have no loop and stay short, but the
# rows are never trusted to say so.
MERGE_HOPS = 20
_RANK = {"email": 0, "phone": 1, "domain": 2, "company": 3}


@dataclass(frozen=True)
class Found:
    """An open lead or deal an inquiry matches, on what, and why in words."""

    matched_on: str
    reason: str
    lead: Lead | None = None
    deal: Deal | None = None
    score: float | None = None

    @property
    def owner(self) -> User | None:
        record = self.lead if self.lead is not None else self.deal
        return record.owner if record is not None else None


def lock_keys(lead: CleanLead, channel: str) -> None:
    """Serialise captures that share a key until the transaction ends.

    Two identical inquiries arriving together would otherwise both find no
    match and both become leads. PostgreSQL takes transaction-scoped
    advisory locks, in sorted order so two captures never wait on each
    other crosswise; SQLite needs nothing (BEGIN IMMEDIATE serialises).
    """
    _lock(
        f"email:{lead.email_key}" if lead.email_key else "",
        f"phone:{lead.phone_e164}" if lead.phone_e164 else "",
        f"domain:{lead.domain}" if lead.domain else "",
        *(f"company:{block}" for block in normalize.company_blocks(lead.company_key)),
        f"external:{channel}:{lead.external_id}" if lead.external_id else "",
    )


def lock_merged_keys(lead: Lead) -> None:
    """Take the capture locks (`lock_keys`) of the keys a merged lead is
    still found by, its email and phone (`merged_query`), until the
    transaction ends. A merge takes them before it closes the lead: a
    capture of the same buyer then either ends first (and joins the lead
    while it is open) or waits, and finds the lead merged and follows it.
    Call it before locking any lead row, as a capture takes these locks
    before it writes anything."""
    _lock(
        f"email:{lead.email_key}" if lead.email_key else "",
        f"phone:{lead.phone_e164}" if lead.phone_e164 else "",
    )


def _lock(*keys: str) -> None:
    if connection.vendor != "postgresql":
        return
    numbers = sorted({_lock_number(key) for key in keys if key})
    if numbers:
        with bulk.prepared_cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k",
                [numbers],
            )


def _lock_number(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def find_match(lead: CleanLead) -> Found | None:
    """The open lead or deal `lead` repeats, or None; a lead before a deal.
    A merged lead sharing its email or phone stands for the lead or deal
    it was merged into (`merged_query`).

    One query reads the candidates of all three (`candidates_query`): every
    capture runs it, and a round trip to the database costs a capture about
    as much as the work each lookup does there.
    """
    query = candidates_query(lead)
    if query is None:
        return None
    with bulk.prepared_cursor() as cursor:
        cursor.execute(*query)
        rows = cursor.fetchall()
    leads = [row[1:] for row in rows if row[0] == "l"]
    deals = [row[1:4] for row in rows if row[0] == "d"]
    moved = _moved(lead, [row[1:4] for row in rows if row[0] == "m"])
    found = _best_lead(lead, leads, [m for m in moved if m[1] is not None])
    if found is None:
        return _best_deal(lead, deals, [m for m in moved if m[1] is None])
    if found.lead is not None and deals:
        return _deal_split_from(lead, found, deals) or found
    return found


def _deal_split_from(
    lead: CleanLead, found: Found, rows: list[tuple[Any, ...]]
) -> Found | None:
    """The open deal of `rows` the lead `found` was split off, when the
    inquiry matches it as well as that lead: the buyer's next message
    belongs on the deal they talk on, not on the lead a split made of an
    inquiry that was not theirs (`_preferred` says the same of leads)."""
    deal_ids = [row[0] for row in rows]
    origin = (
        DedupDecision.objects.filter(
            source_lead_id=found.lead.pk,
            deal_id__in=deal_ids,
            action=DedupDecision.Action.ATTACHED,
            undone_at__isnull=False,
        )
        .values_list("deal_id", flat=True)
        .first()
    )
    if origin is None:
        return None
    deal = _best_deal(lead, [row for row in rows if row[0] == origin])
    return None if deal is None or _better(found, deal) else deal


def candidates_query(lead: CleanLead) -> tuple[str, list[Any]] | None:
    """The SQL and parameters of the candidates `find_match` compares: rows
    ("l", id, email key, phone, domain, company, company key) for leads,
    ("m", id, email key, phone, ...) for merged leads and ("d", id, contact
    email key, organization name, ...) for deals; None without a signal.
    Each part keeps its own order and limit."""
    queries = (
        ("l", leads_query(lead)),
        ("m", merged_query(lead)),
        ("d", deals_query(lead)),
    )
    parts = [(kind, query) for kind, query in queries if query is not None]
    if not parts:
        return None
    selects, params = [], []
    for kind, (sql, values) in parts:
        columns = "c.*" if kind == "l" else "c.*, NULL, NULL, NULL"
        selects.append(f"SELECT '{kind}', {columns} FROM ({sql}) c")
        params += values
    return " UNION ALL ".join(selects), params


def leads_query(lead: CleanLead) -> tuple[str, list[Any]] | None:
    """Open leads, and converted ones whose deal is open, sharing a key with
    `lead`: (id, email, phone, domain, company, company key), newest first;
    None without a key."""
    keys = [
        (column, value)
        for column, value in (
            ("email_key", lead.email_key),
            ("phone_e164", lead.phone_e164),
            ("domain", lead.domain),
        )
        if value
    ]
    # The blocks and numbers, not a block alone: names whose numbers differ
    # never match, and a block many leads share ("Firm 12 GmbH", "Firm 13
    # GmbH") made every capture read all of them. Each of the inquiry's
    # against each column: "Konsulting Schmidt" has "schm" second, "Schmidt
    # Consulting" first.
    for match in normalize.company_matches(lead.company_key):
        keys += [("company_match", match), ("company_match_other", match)]
    # The blocks hold every key equal to the inquiry's (and its words in
    # another order); the names only close to it that they hold as well are
    # never joined (`_company`). Not the typo block: all it adds are such
    # names.
    if not keys:
        return None
    # Narrow rows: most captures match nothing, and building full model
    # instances for a few hundred candidates would cost more than the query.
    # Fixed SQL: compiling this through the ORM cost every capture more CPU
    # than reading the rows (about 0.7 ms in process). The status list
    # spelled out is the second column of the key indexes (see Lead.Meta):
    # closed leads are skipped in the index, not the table.
    wanted = " OR ".join(f'l."{column}" = %s' for column, _ in keys)
    sql = (
        f'SELECT l."id", l."email_key", l."phone_e164", l."domain", l."company", '
        f'l."company_key" FROM "{Lead._meta.db_table}" l '
        f'LEFT OUTER JOIN "{Deal._meta.db_table}" d ON d."id" = l."deal_id" '
        f'WHERE ({wanted}) AND l."status" IN ({status_literals(Lead.LIVE)}) '
        f'AND (l."status" IN ({status_literals(Lead.OPEN)}) '
        f"OR (l.\"status\" = '{Lead.Status.CONVERTED}' "
        f"AND d.\"status\" = '{Deal.Status.OPEN}')) "
        f'ORDER BY l."created_at" DESC, l."id" DESC LIMIT {MAX_CANDIDATES}'
    )
    return sql, [value for _, value in keys]


def merged_query(lead: CleanLead) -> tuple[str, list[Any]] | None:
    """Merged leads sharing the inquiry's email key or phone: (id, email
    key, phone), newest first; None without either. A merge said the lead's
    buyer is the one of the lead or deal it went into, so their next
    inquiry joins that one (`_moved`); a company domain or name is no
    person, and says nothing of where a colleague belongs.

    A union of one branch per key, each reading its index with the status
    (Lead.Meta) to its end, as `deals_query` reads deals: merged leads are
    many of the closed ones, and with an OR PostgreSQL was seen to read
    them by the status alone."""
    branches, params = [], []
    for column, value in (
        ("email_key", lead.email_key),
        ("phone_e164", lead.phone_e164),
    ):
        if value:
            branches.append(
                f'SELECT l."id", l."email_key", l."phone_e164" '
                f'FROM "{Lead._meta.db_table}" l WHERE l."{column}" = %s '
                f"AND l.\"status\" = '{Lead.Status.MERGED}'"
            )
            params.append(value)
    if not branches:
        return None
    return " UNION ".join(branches) + f" ORDER BY 1 DESC LIMIT {MAX_CANDIDATES}", params


# A merged lead's match (`_moved`): what matched, the lead it leads to (None
# for a lead merged straight into a deal), the deal (a converted target's,
# or the deal it was merged into; None for an open lead), and the merged
# lead's id.
Moved = tuple[Found, int | None, int | None, int]


def _moved(lead: CleanLead, rows: list[tuple[Any, ...]]) -> list[Moved]:
    """Where the merged leads of `rows` (id, email key, phone) that share
    the inquiry's email or phone now live: the open lead each was merged
    into (`merge_destination`), or the open deal that one became or it was
    merged into. One that leads to no open record is passed over: the
    inquiry is a new lead, as one matching only a closed lead is."""
    moved = []
    for merged_id, email, phone in rows:
        if lead.email_key and email == lead.email_key:
            found = Found("email", "same email address")
        elif lead.phone_e164 and phone == lead.phone_e164:
            found = Found("phone", "same phone number")
        else:
            continue
        destination = merge_destination(merged_id)
        if destination is not None:
            moved.append((found, *destination, merged_id))
    return moved


def merge_destination(lead_id: int) -> tuple[int | None, int | None] | None:
    """(lead id, deal id) of the record a merged lead now stands for: the
    lead it was merged into, followed on while that one was merged in turn,
    when open (deal None) or converted into a deal still open (both); a
    deal it was merged into, when open (lead None); None when the merges
    end at a closed record. Reads a row or two per merge: only captures
    matching a merged lead ask."""
    current = lead_id
    for _ in range(MERGE_HOPS):
        row = (
            Lead.objects.filter(pk=current)
            .values_list("status", "merged_into_id", "deal_id")
            .first()
        )
        if row is None:
            return None
        status, into, deal_id = row
        if status in Lead.OPEN:
            return current, None
        if status == Lead.Status.CONVERTED:
            return (current, deal_id) if _deal_open(deal_id) else None
        if status != Lead.Status.MERGED:
            return None
        if into is None:
            # Merged into a deal: the merge's decision names it.
            deal_id = (
                DedupDecision.objects.filter(
                    source_lead_id=current,
                    action=DedupDecision.Action.MERGED,
                    undone_at__isnull=True,
                    deal__isnull=False,
                )
                .order_by("-at", "-id")
                .values_list("deal_id", flat=True)
                .first()
            )
            return (None, deal_id) if _deal_open(deal_id) else None
        current = into
    return None


def _deal_open(deal_id: int | None) -> bool:
    return (
        deal_id is not None
        and Deal.objects.filter(pk=deal_id, status=Deal.Status.OPEN).exists()
    )


def _best_lead(
    lead: CleanLead, rows: list[tuple[Any, ...]], moved: Sequence[Moved] = ()
) -> Found | None:
    """The lead of `rows` (newest first) or of the merged leads' `moved`
    the inquiry joins: the strongest signal, then, of the leads alike in
    it, the one the buyer talks on (`_preferred`)."""
    matches: list[tuple[Found, int, int | None]] = []
    for row in rows:
        found = _compare(lead, *row[1:])
        if found is not None:
            matches.append((found, row[0], None))
    matches += [(found, pk, via) for found, pk, _, via in moved]
    if not matches:
        return None
    best = matches[0][0]
    for found, _, _ in matches[1:]:
        if _better(found, best):
            best = found
    tied = list(
        dict.fromkeys(pk for found, pk, _ in matches if not _better(best, found))
    )
    best_id = _preferred(tied) if len(tied) > 1 else tied[0]
    via = next(
        v for found, pk, v in matches if pk == best_id and not _better(best, found)
    )
    record = Lead.objects.select_related("owner").get(pk=best_id)
    reason = best.reason
    if via is not None:
        into = f"lead {record.pk}" if record.deal_id else "this lead"
        reason = f"{reason} as lead {via}, merged into {into}"
    if record.deal_id:
        # A converted lead stands for its deal: the inquiry joins the deal.
        deal = Deal.objects.select_related("owner").get(pk=record.deal_id)
        if via is None:
            reason = f"{reason} as lead {record.pk}"
        return Found(
            best.matched_on,
            f"{reason}, converted into this deal",
            None,
            deal,
            best.score,
        )
    return Found(best.matched_on, reason, record, None, best.score)


def _preferred(lead_ids: list[int]) -> int:
    """Of leads an inquiry matches equally well (`lead_ids`, newest first),
    the one the buyer talks on: never a lead split off another of them, or
    off the deal one of them became (a split says the inquiry was not that
    lead's: the buyer's next message belongs where it was split from); then
    one with an owner, or a converted one, before one waiting for an owner;
    then the newest. Two queries, made only for such a tie."""
    rows = Lead.objects.filter(pk__in=lead_ids).values_list("pk", "owner_id", "deal_id")
    owned = {pk for pk, owner, deal in rows if owner is not None or deal is not None}
    deals = [deal for _, _, deal in rows if deal is not None]
    split_off = set(
        DedupDecision.objects.filter(
            Q(lead_id__in=lead_ids) | Q(deal_id__in=deals),
            source_lead_id__in=lead_ids,
            action=DedupDecision.Action.ATTACHED,
            undone_at__isnull=False,
        ).values_list("source_lead_id", flat=True)
    )
    left = [pk for pk in lead_ids if pk not in split_off] or lead_ids
    return next((pk for pk in left if pk in owned), left[0])


def status_literals(statuses: Iterable[str]) -> str:
    """Status names as SQL literals. Written into the statement, not bound:
    with them bound, PostgreSQL judged its prepared plan for this query
    worse than planning each time, and planning cost it 0.4 ms per capture,
    twice what running the query did."""
    names = list(statuses)
    for name in names:
        # Only the model's own status names, which need no quoting.
        if not name.isidentifier():
            raise ValueError(f"not a status name: {name!r}")
    return ", ".join(f"'{name}'" for name in names)


def _compare(
    lead: CleanLead, email: str, phone: str, domain: str, company: str, key: str
) -> Found | None:
    """How a candidate's keys match the inquiry, strongest signal first."""
    if lead.email_key and email == lead.email_key:
        return Found("email", "same email address")
    if lead.phone_e164 and phone == lead.phone_e164:
        return Found("phone", "same phone number")
    if lead.domain and domain == lead.domain:
        return Found("domain", f"same company domain {lead.domain}")
    # Its website's domain (the stored one, re-read as the lists are now)
    # and its email's, as the inquiry's own.
    theirs = (normalize.website_domain(domain), normalize.email_domain(email))
    return _company(lead, company, key, theirs)


def company_domains(lead: CleanLead) -> tuple[str, ...]:
    """The company domains an inquiry gives: its website's, else its
    email's (`lead.domain`), and its email's too; none of a mailbox
    provider."""
    email = normalize.email_domain(lead.email_key) if lead.email_key else ""
    return tuple(domain for domain in (lead.domain, email) if domain)


def _company(
    lead: CleanLead, name: str, key: str, domains: tuple[str, ...]
) -> Found | None:
    """A match on the company name: the same key, or its words in another
    order (`normalize.same_company`). None for a name only close to it:
    "Keiser Bau" and "Kaiser Bau" score 90, "Schmitt Consulting" and
    "Schmidt Consulting" 94, and are two firms as often as one name
    misspelt. Joined, the second firm's first inquiry would be a repeat on
    the first's lead, never routed or timed; made a lead of its own, it
    costs a merge from the lead's page (`similar`).

    None as well when the company domains of the two (the candidate's
    `domains`) say they are two firms (`normalize.other_firms`): a second
    "Müller GmbH" at mueller-bau.de is not the "Müller AG" at mueller-it.de,
    whose names give one key. Made a lead of its own, a firm that writes
    from two domains is seen twice in the inbox and merged by hand."""
    if not lead.company_key or not key:
        return None
    if normalize.other_firms(company_domains(lead), domains):
        return None
    if not normalize.same_company(lead.company_key, key):
        return None
    reason = f"same company: {lead.company!r} and {name!r}"
    return Found("company", reason, score=100.0)


def _better(found: Found, best: Found) -> bool:
    """Stronger signal wins; else the first (most recent) record keeps its
    place. A company matches only by the same name (`_company`), so two
    company matches are alike."""
    return _RANK[found.matched_on] < _RANK[best.matched_on]


def _best_deal(
    lead: CleanLead, rows: list[tuple[Any, ...]], moved: Sequence[Moved] = ()
) -> Found | None:
    """The best of the open deals (id, contact email key, organization name)
    `deals_query` found, and of those merged leads were merged into
    (`moved`). A deal's company domain is its contact's email's."""
    matches = []
    for deal_id, email_key, organization in rows:
        found = None
        if lead.email_key and email_key == lead.email_key:
            found = Found("email", "same email address as the deal's contact")
        elif organization:
            theirs = (normalize.email_domain(email_key or ""),)
            key = normalize.company_key(organization)
            found = _company(lead, organization, key, theirs)
        if found is not None:
            matches.append((found, deal_id))
    for found, _, deal_id, via in moved:
        reason = f"{found.reason} as lead {via}, merged into this deal"
        matches.append((Found(found.matched_on, reason), deal_id))
    best, best_id = None, None
    for found, deal_id in matches:
        if best is None or _better(found, best):
            best, best_id = found, deal_id
    if best is None:
        return None
    deal = Deal.objects.select_related("owner").get(pk=best_id)
    return Found(best.matched_on, best.reason, None, deal, best.score)


def deals_query(lead: CleanLead) -> tuple[str, list[str]] | None:
    """Open deals whose contact has the inquiry's email key (the person's
    `email_key`, computed by the same `normalize.email_key`) or one of whose
    organization's blocks is one of the inquiry's company blocks
    (`normalize.company_blocks`, folded alike), which hold every name of
    the inquiry's key: (id, contact email key, organization name), newest
    first; None without a signal. Not by the typo block, as `leads_query`
    says.

    A union of one branch per signal: each branch starts from its own index
    (deals migrations 0006, 0017 and 0019) and reaches the open deals
    through them, where an OR across two joined tables would read every
    open deal. Written as SQL
    because the ORM spent a millisecond of CPU compiling the union, which
    every capture pays.
    """
    branches, params = [], []
    if lead.email_key:
        branches.append(_deals_by("contact_id", 'x."email_key" = %s'))
        params.append(lead.email_key)
    if blocks := normalize.company_blocks(lead.company_key):
        # Organizations keep their name's blocks folded as leads fold them;
        # the inquiry's every block is compared with each, one branch (and
        # index) for each column.
        marks = ", ".join(["%s"] * len(blocks))
        for column in ("name_block", "name_block_other"):
            match = f'x."{column}" IN ({marks})'
            branches.append(_deals_by("organization_id", match))
            params.extend(blocks)
    if not branches:
        return None
    # UNION, not UNION ALL: a deal matching on both signals is one row.
    sql = " UNION ".join(branches) + f" ORDER BY 1 DESC LIMIT {MAX_CANDIDATES}"
    return sql, params


def _deals_by(column: str, match: str) -> str:
    """Open deals (id, contact email key, organization name) whose contact
    or organization (`column`) is a row `x` of its table satisfying `match`."""
    people, organizations = Person._meta.db_table, Organization._meta.db_table
    table = people if column == "contact_id" else organizations
    return (
        f'SELECT d."id", p."email_key", o."name" FROM "{Deal._meta.db_table}" d '
        f'LEFT OUTER JOIN "{people}" p ON p."id" = d."contact_id" '
        f'LEFT OUTER JOIN "{organizations}" o ON o."id" = d."organization_id" '
        f"WHERE d.\"status\" = '{Deal.Status.OPEN}' "
        f'AND d."{column}" IN (SELECT x."id" FROM "{table}" x WHERE {match})'
    )


def attach(
    found: Found,
    lead: CleanLead,
    *,
    pipeline: Pipeline,
    channel: str,
    by: User | None,
    now: dt.datetime,
) -> DedupDecision:
    """Add the inquiry to the lead or deal it repeats, tell its owner, and
    record the decision (with the inquiry, so a split can undo it).

    Nothing of the lead is changed: what the inquiry brings for the lead's
    empty fields is kept on its note as an offer (`offers`), which a person
    may take.

    The activity says who asked (`contact_line`), what they wrote, and the
    phone and website they gave as unchecked (`unchecked_line`): an inquiry
    is anonymous, so those are no way to reach the buyer until someone has
    confirmed them. Its owner gets it in their inbox and, but for an
    import, as a notice by mail and webhook, and an answered lead or a deal
    a task to answer it (`followups`). A lead nobody owns yet tells whoever
    holds its window meanwhile instead, and a deal nobody owns the same
    people (`told_instead`).
    """
    subject = cut(f"Repeat inquiry: {lead.label}", 300)
    contact = contact_line(lead, matched_on=found.matched_on)
    unchecked = unchecked_line(lead, matched_on=found.matched_on)
    offered: list[str] = []
    if found.lead is not None:
        # Offered, never written: the inquiry is anonymous (`offers`).
        values = offers.offered_values(found.lead, lead, matched_on=found.matched_on)
        offered = list(values)
        activity_id = LeadActivity.objects.create(
            lead=found.lead,
            kind=LeadActivity.Kind.INQUIRY,
            subject=subject,
            body="\n\n".join(
                part
                for part in (contact, unchecked, lead.message, offers.offering(offered))
                if part
            ),
            data={**lead.to_json(), "channel": channel} | offers.note_data(values),
            at=now,
            by=by,
        ).pk
    else:
        assert found.deal is not None
        # A deal's activity has one line: who asked, and how to reach them,
        # the unchecked phone and website said to be so.
        line = "; ".join(part for part in (contact, _unchecked_short(lead)) if part)
        activity_id = Activity.objects.create(
            deal=found.deal,
            kind=Activity.Kind.NOTE,
            subject=cut(f"Repeat inquiry: {line or lead.label}", 300),
            done=True,
            at=now,
            by=by,
        ).pk
    decision = DedupDecision.objects.create(
        pipeline_id=pipeline.pk,
        action=DedupDecision.Action.ATTACHED,
        matched_on=found.matched_on,
        reason=found.reason,
        score=found.score,
        lead=found.lead,
        deal=found.deal,
        channel=channel,
        external_id=lead.external_id,
        data=lead.to_json(),
        activity_id=activity_id,
        at=now,
        by=by,
    )
    what = found.lead.label if found.lead is not None else found.deal.title
    told, why = [found.owner], ""
    if found.owner is None:
        unowned = found.lead if found.lead is not None else found.deal
        told, why = told_instead(unowned)
    owed = ""
    data = inquiry_data(found, lead, offered) if channel != "import" else None
    for person in told:
        if person is None:
            continue
        LeadNotice.objects.create(
            user=person,
            lead=found.lead,
            deal=found.deal,
            text=cut(f"Repeat inquiry on {what} ({found.reason}){why}", 300),
            at=now,
        )
        if channel != "import":
            # Imported here: it reaches into the clocks app, which imports
            # this app's routing.
            from . import followups

            # The answer is owed once, whoever is told: the first notice
            # starts it, the others say the same.
            owed = followups.deliver(
                pipeline,
                person,
                lead=found.lead,
                deal=found.deal,
                who=lead.label,
                contact="\n".join(part for part in (contact, unchecked) if part),
                says=lead.message,
                offering=offers.offering(offered),
                unowned=why.strip(" ;"),
                decision_id=decision.pk,
                now=now,
                owed=owed,
                data=data,
            )
    if found.owner is None and channel != "import":
        # An import logs each row it attached (`services.capture_lead`).
        names = ", ".join(p.username for p in told if p is not None) or "nobody"
        kind, pk = ("lead", found.lead.pk) if found.lead else ("deal", found.deal.pk)
        transaction.on_commit(
            lambda: log.warning(
                "%s %s has no owner: the inquiry attached to it (decision %s) "
                "was told to %s",
                kind,
                pk,
                decision.pk,
                names,
            )
        )
    return decision


def told_instead(subject: Lead | Deal) -> tuple[list[User], str]:
    """Who is told of a follow-up on `subject`, a lead or deal nobody owns,
    and why in words (a clause for the inbox notice): whoever holds a lead's
    response window while it waits for an owner, the active person owning
    the pipeline's intake stage, else the firm's active admins
    (`clocks.services.unplaced_responsible_id`, as the sweep tells them). A
    deal nobody owns tells the same people: the buyer wrote in again, as a
    new inquiry would, and those are who take new inquiries in."""
    # Imported here: the clocks app imports this app's routing.
    from dealgate.clocks.services import unplaced_responsible_id

    if isinstance(subject, Lead):
        nobody, stage = "nobody owns the lead yet", "its intake stage"
    else:
        nobody, stage = "nobody owns the deal", "its pipeline's intake stage"
    person = unplaced_responsible_id(subject.pipeline)
    if person is not None:
        return list(User.objects.filter(pk=person)), f"; {nobody}: you own {stage}"
    admins = User.objects.filter(role=User.Role.ADMIN, is_active=True).order_by("id")
    return list(admins), f"; {nobody} and {stage} has no owner"


# Said wherever an inquiry's phone or website is passed on: its note, the
# notice, mail and webhook that tell of it.
UNCHECKED = (
    "An inquiry is anonymous: anyone can send one with the buyer's email or "
    "phone. Confirm these with the buyer before you call the number or open "
    "the site; reach the buyer at the details you already hold."
)


def contact_line(lead: CleanLead, *, matched_on: str = "") -> str:
    """Who sent an inquiry, on one line: name, email, company and country,
    as far as given, and its phone when it is the number the inquiry
    matched on (the lead's or deal's own). Any other phone, and the website,
    are the inquiry's say only (`unchecked_line`)."""
    phone = lead.phone if matched_on == "phone" else ""
    parts = (lead.name, lead.email, phone, lead.company)
    line = " · ".join(part for part in parts if part)
    return f"{line} ({lead.country})" if line and lead.country else line


def _unchecked_values(lead: CleanLead, matched_on: str) -> dict[str, str]:
    """The phone and website an inquiry gives that are its say only: any
    phone but the number it matched on, and its website."""
    phone = lead.phone if matched_on != "phone" else ""
    given = {"phone": phone, "website": lead.website}
    return {name: value for name, value in given.items() if value}


def _unchecked(lead: CleanLead, matched_on: str) -> list[str]:
    given = _unchecked_values(lead, matched_on)
    return [f"{label} {value}" for label, value in given.items()]


# What `inquiry_data` gives of the lead or deal as stored.
STORED_FIELDS = ("name", "email", "phone", "company", "website", "country")
# What `inquiry_data` gives of who sent the inquiry, as given.
SENDER_FIELDS = ("name", "email", "phone", "company")


def inquiry_data(found: Found, lead: CleanLead, offered: list[str]) -> dict[str, Any]:
    """What the notice of a follow-up gives a program by webhook beside its
    text (`Notice.data`), so that it can tell what the anonymous inquiry
    says from what Dealgate holds, as the text does in words (`UNCHECKED`):

    - `offered`: every value the inquiry gives that is its say only, none
      of them checked or written: the phone and website of
      `unchecked_line`, and the values it offers the lead's empty fields;
    - `for_empty_fields`: which of those a person may take into the lead
      (its note's offer; a deal is offered none);
    - `stored`: the lead's values, or the deal's contact's and its
      organization's name, as stored: the details to reach the buyer at;
    - `sender`: who the inquiry says wrote it (name, email, phone, company
      as given, unchecked), as its text names them: a colleague found by
      the company is not the person `stored` holds.
    """
    values: dict[str, Any] = dict(_unchecked_values(lead, found.matched_on))
    if found.lead is not None and offered:
        values |= offers.offer_values(found.lead, lead, offered)
    given = {name: getattr(lead, name) for name in SENDER_FIELDS}
    return {
        "inquiry": {
            "matched_on": found.matched_on,
            "sender": {name: value for name, value in given.items() if value},
            "offered": {name: _json_value(value) for name, value in values.items()},
            "for_empty_fields": list(offered),
            "stored": _stored(found),
            "warning": UNCHECKED,
        }
    }


def _stored(found: Found) -> dict[str, Any]:
    if found.lead is not None:
        held = {name: getattr(found.lead, name) for name in STORED_FIELDS}
    else:
        contact, organization = found.deal.contact, found.deal.organization
        held = {
            "name": contact.name if contact else "",
            "email": contact.email if contact else "",
            "phone": contact.phone if contact else "",
            "company": organization.name if organization else "",
        }
    return {name: value for name, value in held.items() if value not in ("", None)}


def _json_value(value: Any) -> Any:
    """`value` as JSON holds it: an amount as text, as the API answers one."""
    return str(value) if isinstance(value, Decimal) else value


def unchecked_line(lead: CleanLead, *, matched_on: str = "") -> str:
    """The phone and website an inquiry gives, said to be unchecked, with
    why (`UNCHECKED`); "" when it gives neither (but the number it matched
    on, which is the lead's own)."""
    given = _unchecked(lead, matched_on)
    if not given:
        return ""
    return f"Given by the inquiry, unchecked: {', '.join(given)}. {UNCHECKED}"


def _unchecked_short(lead: CleanLead) -> str:
    """`unchecked_line` in a few words, for a deal's one-line note (it
    matches a deal on the email or the company, never the phone)."""
    given = _unchecked(lead, "")
    return f"unchecked (an inquiry is anonymous): {', '.join(given)}" if given else ""
