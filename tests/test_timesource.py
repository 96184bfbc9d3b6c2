import datetime as dt

import pytest

from dealgate import timesource


def test_as_of_date_means_the_end_of_that_day_in_utc(settings):
    settings.AS_OF = "2017-12-31"
    assert timesource.now() == dt.datetime(2017, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_frozen_time_wins_over_as_of_and_is_restored(settings):
    settings.AS_OF = "2017-12-31"
    pinned = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    with timesource.frozen_at(pinned):
        assert timesource.now() == pinned
    assert timesource.now().year == 2017


def test_as_of_without_offset_is_refused():
    with pytest.raises(ValueError, match="UTC offset"):
        timesource.parse_as_of("2017-12-31T10:00:00")


def test_as_of_that_is_not_a_date_names_the_expected_form():
    with pytest.raises(ValueError, match="2017-12-31"):
        timesource.parse_as_of("last tuesday")


def test_real_time_when_nothing_is_pinned(settings):
    settings.AS_OF = ""
    before = dt.datetime.now(dt.UTC)
    assert timesource.now() >= before
