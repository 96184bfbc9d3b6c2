"""The one rule for a request's client address, shared by every limit per
address (the lead form's, sign-in failures')."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from dealgate.web.client import address_key, client_address


@pytest.mark.parametrize("header", ["X-Real-IP", "x-real-ip", "HTTP_X_REAL_IP"])
def test_the_header_may_be_named_as_sent_or_as_django_names_it(settings, header):
    settings.CLIENT_ADDRESS_HEADER = header
    request = RequestFactory().get("/", HTTP_X_REAL_IP="203.0.113.9")

    assert client_address(request) == "203.0.113.9"


def test_of_a_list_the_last_entry_counts_the_one_our_proxy_added(settings):
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1"
    )

    assert client_address(request) == "203.0.113.9"


def test_without_the_header_the_connection_address_counts(settings):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")

    assert client_address(request) == "10.0.0.1"


def test_with_no_header_configured_a_sent_one_is_ignored(settings):
    settings.CLIENT_ADDRESS_HEADER = ""
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.1"
    )

    assert client_address(request) == "10.0.0.1"


def test_an_address_is_kept_as_a_keyed_hash(settings):
    key = address_key("203.0.113.9")
    settings.SECRET_KEY = "another secret"

    assert "203.0.113.9" not in key and len(key) == 64
    assert address_key("203.0.113.9") != key
