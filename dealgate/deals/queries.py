"""Read models for the board: what a page shows, built with a few aggregate queries.

The board never loads every open deal. One GROUP BY gives each stage's count and
totals; one windowed query gives the first cards of every column; the rest of a
column comes a page at a time (`column_page`), after the last card shown. How
long a deal has sat in its stage, and whether that is too long, is decided in
`stage_age` alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from dealgate.accounts.models import User, by_display_name
from dealgate.core import business_time
from dealgate.core.calendar import Calendar
from dealgate.core.numbers import Place, read_place
from dealgate.core.rounding import hundredfold, whole
from dealgate.deals.models import Deal
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline, Stage

CARDS_PER_COLUMN = 30


@dataclass(frozen=True)
class NoOwner:
    """The board's owner filter set to the deals no one owns. Reads as a
    person does where the filter is shown: `pk` None matches a deal's empty
    owner, and `username` is what the filter sends, which no username can
    be (they hold no parentheses)."""

    pk: None = None
    username: str = "(none)"
    display_name: str = "no one"


NO_OWNER = NoOwner()

# Oldest in stage first: those need attention. Deals whose entry date the source
# did not give go last, since nothing can be said about how long they have waited.
CARD_ORDER = (F("stage_entered_at").asc(nulls_last=True), F("id").asc())


# What a card shows; loading only these keeps notes and custom fields unread.
CARD_FIELDS = (
    "stage_id",
    "version",
    "title",
    "value",
    "currency",
    "stage_entered_at",
    "organization__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
)


@dataclass(frozen=True)
class Age:
    """How long a deal has sat in its stage, against the stage's age limit."""

    elapsed: float | None  # None when the entry time is unknown
    limit: int | None  # None when the stage has no age limit
    unit: str  # says which clock counted, e.g. "business days"

    @property
    def known(self) -> bool:
        return self.elapsed is not None

    @property
    def at_risk(self) -> bool:
        return (
            self.elapsed is not None
            and self.limit is not None
            # Reached, as a clock runs out at its due time: the stay has
            # used all the business time it was given.
            and (self.elapsed >= self.limit)
        )

    @property
    def label(self) -> str:
        if self.elapsed is None:
            return "entered: unknown"
        if self.limit is None:
            return f"{_days(self.elapsed)} {self.unit}, no limit"
        label = f"{_days(self.elapsed)} of {self.limit} {self.unit}"
        if self.at_risk:
            over = self.elapsed - self.limit
            label += (
                ", at the limit" if over < 0.05 else f", {_days(over)} over the limit"
            )
        return label


def _days(value: float) -> str:
    """Days for people: one decimal below ten, whole days above ("4.5", "37"),
    both rounded down, as Today and the notices count whole days
    (`clocks.timeleft.format_span`): 25.5 days over reads "25" everywhere."""
    if value >= 10:
        return f"{math.floor(value):,}"
    return f"{math.floor(value * 10) / 10:.1f}".removesuffix(".0")


def stage_age(
    entered_at: dt.datetime | None,
    now: dt.datetime,
    *,
    limit: int | None,
    calendar: Calendar,
) -> Age:
    """The one place that decides how time in stage is counted and when it is late.

    Ages are business days in the pipeline's calendar (working minutes over
    the calendar's standard working day, see dealgate.core.business_time), the
    unit stage age limits are written in. A deal is at risk once its age is
    over the stage's limit.
    """
    unit = "business days"
    if entered_at is None:
        return Age(elapsed=None, limit=limit, unit=unit)
    # An as-of instant earlier than the entry (demos on history) is not a
    # negative age; the deal has simply only just arrived.
    if now <= entered_at:
        return Age(elapsed=0.0, limit=limit, unit=unit)
    days = business_time.business_days_between(calendar, entered_at, now)
    return Age(elapsed=days, limit=limit, unit=unit)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Card:
    id: int
    title: str
    organization: str | None
    owner: str | None
    value: Decimal | None
    currency: str
    entered_at: dt.datetime | None
    age: Age
    # The version the board read: a drag sends it, so a move made on a card
    # someone else changed meanwhile is refused instead of applied blindly.
    version: int = 0


@dataclass(frozen=True)
class Column:
    stage: Stage
    count: int
    totals: tuple[Money, ...]  # per currency, the pipeline's first; () if no values
    share: float  # of all open deals on the board, 0 to 1: the stage's width
    cards: list[Card]
    more: int  # open deals in the stage not among `cards`

    @property
    def percent(self) -> int:
        return whole(hundredfold(self.share))

    @property
    def next_place(self) -> str:
        """Where the column's "more" link starts: after its last card."""
        return str(card_place(self.cards[-1])) if self.cards else ""


@dataclass(frozen=True)
class Board:
    pipeline: Pipeline
    owner: User | NoOwner | None
    now: dt.datetime
    columns: list[Column]
    open_count: int
    totals: tuple[Money, ...]
    owners: list[User]  # people with open deals here, for the owner filter


def card_place(card: Card) -> Place:
    """Where a page of a column ends: its last card's stage entry time
    (None when the source gave none) and id, in CARD_ORDER."""
    return Place(card.entered_at, card.id)


def read_card_place(text: str) -> Place:
    """The place written `text` in a column's "more" link (ValidationError
    naming `after`)."""
    return read_place(text, "the column")


def _after(place: Place) -> Q:
    """The deals after `place` in CARD_ORDER: a later entry time, the same
    one and a higher id, or none (those go last)."""
    if place.at is None:
        return Q(stage_entered_at__isnull=True, pk__gt=place.pk)
    return (
        Q(stage_entered_at__gt=place.at)
        | Q(stage_entered_at=place.at, pk__gt=place.pk)
        | Q(stage_entered_at__isnull=True)
    )


@dataclass(frozen=True)
class ColumnPage:
    stage: Stage
    cards: list[Card]
    before: int  # open deals of the stage before this page
    more: int  # open deals after this page

    @property
    def first(self) -> int:
        """The position of the page's first card in the column, from 1."""
        return self.before + 1

    @property
    def last(self) -> int:
        return self.before + len(self.cards)

    @property
    def next_place(self) -> str:
        """Where the next page starts, as the "more" link writes it."""
        return str(card_place(self.cards[-1])) if self.cards else ""


def owned_by(owner: User | NoOwner | None) -> Q:
    """The rows (deals or leads) an owner filter keeps: `owner`'s, those no
    one owns (NO_OWNER), or all (None)."""
    if isinstance(owner, NoOwner):
        return Q(owner__isnull=True)
    return Q() if owner is None else Q(owner=owner)


def open_deals(
    pipeline: Pipeline, owner: User | NoOwner | None = None
) -> QuerySet[Deal]:
    """The pipeline's open deals; `owner`'s only, or with no owner (NO_OWNER)."""
    return Deal.objects.filter(
        owned_by(owner), pipeline=pipeline, status=Deal.Status.OPEN
    )


def board_for(
    pipeline: Pipeline,
    *,
    owner: User | NoOwner | None = None,
    now: dt.datetime,
    cards_per_column: int = CARDS_PER_COLUMN,
) -> Board:
    """The board of one pipeline: a column per open stage, ordered by position.

    Four queries whatever the number of deals: the stages; one GROUP BY for
    counts, totals and who owns open deals; one windowed query for the first
    `cards_per_column` cards of every column, organization and owner joined in;
    and the owners offered by the filter.
    """
    # Through the related manager, each stage keeps this pipeline: no query each.
    stages = list(pipeline.stages.order_by("position"))
    tally = _tally(pipeline, owner)
    # A retired stage leaves the board; one still holding open deals (which
    # `pipeline apply` moves out) keeps its column, so no deal disappears.
    stages = [s for s in stages if s.retired_at is None or tally.counts.get(s.pk)]
    cards = _first_cards(open_deals(pipeline, owner), stages, now, cards_per_column)
    open_count = sum(tally.counts.values())
    columns = [
        _column(stage, tally, cards.get(stage.pk, []), open_count) for stage in stages
    ]
    owners = by_display_name(User.objects.filter(pk__in=tally.owner_ids))
    return Board(
        pipeline=pipeline,
        owner=owner,
        now=now,
        columns=columns,
        open_count=open_count,
        totals=_money(tally.grand, pipeline.currency),
        owners=list(owners),
    )


def column_page(
    stage: Stage,
    *,
    owner: User | NoOwner | None = None,
    now: dt.datetime,
    after: Place | None = None,
    limit: int = CARDS_PER_COLUMN,
) -> ColumnPage:
    """The cards of one column after `after` (from the start without it), in
    board order: two queries, and one more to count what comes before the
    page when `after` is given."""
    deals = open_deals(stage.pipeline, owner).filter(stage=stage)
    count = deals.count()
    before = 0
    if after is not None:
        deals = deals.filter(_after(after))
        before = max(0, count - deals.count())
    page = (
        deals.select_related("organization", "owner")
        .only(*CARD_FIELDS)
        .order_by(*CARD_ORDER)
    )
    calendar = calendar_for(stage.pipeline)
    cards = [_card(deal, stage, now, calendar) for deal in page[:limit]]
    more = max(0, count - before - len(cards))
    return ColumnPage(stage=stage, cards=cards, before=before, more=more)


@dataclass
class _Tally:
    counts: Counter[int] = field(default_factory=Counter)  # stage id: deals
    # stage id: currency: total value, and the same over all stages
    sums: defaultdict[int, defaultdict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    grand: defaultdict[str, Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    owner_ids: set[int] = field(default_factory=set)  # whatever the filter


def _tally(pipeline: Pipeline, owner: User | NoOwner | None) -> _Tally:
    """Counts and totals per stage from one GROUP BY over all open deals.

    Grouping by owner too costs little and names everyone the owner filter
    should offer, so the filtered figures are summed here from those groups
    (a few hundred rows at most) rather than by a second scan of the deals.
    """
    tally = _Tally()
    rows = (
        open_deals(pipeline)
        .values("stage_id", "currency", "owner_id")
        .annotate(n=Count("id"), valued=Count("value"), v=Sum("value"))
        .order_by()
    )
    for row in rows:
        if row["owner_id"] is not None:
            tally.owner_ids.add(row["owner_id"])
        if owner is not None and row["owner_id"] != owner.pk:
            continue
        tally.counts[row["stage_id"]] += row["n"]
        # Deals without a value add no total: "$0" would claim one was known.
        if row["valued"]:
            tally.sums[row["stage_id"]][row["currency"]] += row["v"]
            tally.grand[row["currency"]] += row["v"]
    return tally


def _column(stage: Stage, tally: _Tally, cards: list[Card], open_count: int) -> Column:
    count = tally.counts[stage.pk]
    return Column(
        stage=stage,
        count=count,
        totals=_money(tally.sums[stage.pk], stage.pipeline.currency),
        share=count / open_count if open_count else 0.0,
        cards=cards,
        more=count - len(cards),
    )


def _first_cards(
    deals: QuerySet[Deal], stages: list[Stage], now: dt.datetime, limit: int
) -> dict[int, list[Card]]:
    # Rank bare ids, then join organization and owner for the winners only:
    # ranking the joined rows took about 3x as long with 10,000 open deals.
    ranked_ids = (
        deals.annotate(
            rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=CARD_ORDER)
        )
        .filter(rank__lte=limit)
        .values("pk")
    )
    winners = (
        Deal.objects.filter(pk__in=ranked_ids)
        .select_related("organization", "owner")
        .only(*CARD_FIELDS)
        .order_by("stage_id", *CARD_ORDER)
    )
    by_id = {stage.pk: stage for stage in stages}
    cards: dict[int, list[Card]] = {}
    for deal in winners:
        stage = by_id[deal.stage_id]
        cards.setdefault(stage.pk, []).append(
            _card(deal, stage, now, calendar_for(stage.pipeline))
        )
    return cards


def _card(deal: Deal, stage: Stage, now: dt.datetime, calendar: Calendar) -> Card:
    return Card(
        id=deal.pk,
        title=deal.title,
        organization=deal.organization.name if deal.organization else None,
        owner=deal.owner.display_name if deal.owner else None,
        value=deal.value,
        currency=deal.currency,
        entered_at=deal.stage_entered_at,
        age=stage_age(
            deal.stage_entered_at, now, limit=stage.age_limit_days, calendar=calendar
        ),
        version=deal.version,
    )


def _money(amounts: Mapping[str, Decimal], main: str) -> tuple[Money, ...]:
    """Totals per currency, the pipeline's own first; never summed across.

    Empty when no deal has a value, so pages can say so instead of "$0".
    """
    order = sorted(amounts, key=lambda currency: (currency != main, currency))
    return tuple(Money(amounts[currency], currency) for currency in order)
