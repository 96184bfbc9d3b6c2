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


def test_a_refused_url_is_quoted_without_its_password():
    with pytest.raises(ImproperlyConfigured) as refusal:
        database_from_url("mysql://sales:s3cret@db.example.com/dealgate")
    assert "s3cret" not in str(refusal.value)
    assert "mysql://sales:***@db.example.com/dealgate" in str(refusal.value)


def test_a_url_whose_port_is_no_number_is_refused_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL") as refusal:
        database_from_url("postgres://sales:s3cret@db:54x/dealgate")
    assert "s3cret" not in str(refusal.value)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///var/x.sqlite3", "var/x.sqlite3"),
        ("sqlite:////srv/x.sqlite3", "/srv/x.sqlite3"),
    ],
)
def test_sqlite_urls_with_three_or_four_slashes_still_name_their_file(url, name):
    assert database_from_url(url)["NAME"] == name
