"""A mistyped DATABASE_URL is refused, naming what was given, never read as
another database."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from dealgate.settings import database_from_url


def test_a_sqlite_url_with_two_slashes_is_refused_rather_than_dropping_its_host_part():
    # sqlite://var/x.sqlite3 today opens (and creates) ./x.sqlite3: "var" is
    # taken for a host and thrown away.
    with pytest.raises(ImproperlyConfigured, match="sqlite:///"):
        database_from_url("sqlite://var/dealgate.sqlite3")


def test_a_url_without_a_scheme_is_refused_quoting_what_was_given():
    # Today the message ends "got ''", the empty scheme, not the value.
    with pytest.raises(ImproperlyConfigured, match="var/dealgate.sqlite3"):
        database_from_url("var/dealgate.sqlite3")
