"""The "more" links of the keyset lists name their last row's place exactly.

A place written to the millisecond, as JSON answers an instant, falls
before a row stored to the microsecond, and the next page would show that
row again (the deal history's fault, tests/api/test_deal_history_pages_api.py).
The board's columns, the leads inbox, Today and the notices write their
"more" links themselves, from the rows as stored: the place each writes
reads back as the same instant, microseconds and all.
"""

from __future__ import annotations

import datetime as dt

from dealgate.clocks.queries import read_places, write_places
from dealgate.core.numbers import Place, read_place

STORED = dt.datetime(2026, 6, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


def test_a_column_inbox_or_notices_place_reads_back_to_the_microsecond():
    written = str(Place(STORED, 7))

    assert read_place(written, "the column") == Place(STORED, 7)
    assert written.startswith("2026-06-01T09:00:00.123456")


def test_a_place_in_another_zone_reads_back_as_the_same_instant():
    berlin = STORED.astimezone(dt.timezone(dt.timedelta(hours=2)))

    assert read_place(str(Place(berlin, 7)), "the list").at == STORED


def test_todays_places_read_back_to_the_microsecond():
    places = {3: (STORED, 40), 5: (STORED + dt.timedelta(microseconds=1), 41)}

    assert read_places(write_places(places)) == places
