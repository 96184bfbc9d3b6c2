"""The one rule for a request's client address, shared by every limit per
address (the lead form's, sign-in failures')."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory

from dealgate.web import client
from dealgate.web.client import address_key, client_address


@pytest.fixture(autouse=True)
def _no_peer_warned_yet(monkeypatch) -> None:
    # Which peers were warned about is remembered per worker process.
    monkeypatch.setattr(client, "_WARNED_PEERS", set())


@pytest.mark.parametrize("header", ["X-Real-IP", "x-real-ip", "HTTP_X_REAL_IP"])
def test_the_header_may_be_named_as_sent_or_as_django_names_it(settings, header):
    settings.CLIENT_ADDRESS_HEADER = header
    request = RequestFactory().get("/", HTTP_X_REAL_IP="203.0.113.9")

    assert client_address(request) == "203.0.113.9"


def test_of_a_list_the_last_entry_counts_the_one_our_proxy_added(settings):
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
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


@pytest.mark.parametrize(
    ("sent", "counted"),
    [
        ("203.0.113.9:5555", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("[::ffff:203.0.113.9]:443", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        (" 203.0.113.9 ", "203.0.113.9"),
    ],
)
def test_the_header_is_read_as_an_address_without_its_port(settings, sent, counted):
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=sent)

    assert client_address(request) == counted
    assert address_key(sent) == address_key(counted)


def test_of_several_hops_the_last_counts_with_its_port_dropped(settings):
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    settings.PROXY_ADDRESSES = ["10.0.0.0/24"]
    request = RequestFactory().get(
        "/",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7, 203.0.113.9:5555",
        REMOTE_ADDR="10.0.0.1",
    )

    assert client_address(request) == "203.0.113.9"


@pytest.mark.parametrize(
    "sent",
    [
        "garbage",
        "203.0.113.9, unknown",
        "203.0.113.9:http",
        "203.0.113.9:99999",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "010.0.0.1",
    ],
)
def test_a_header_that_holds_no_address_counts_the_connection_and_warns(
    settings, caplog, sent
):
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR=sent, REMOTE_ADDR="10.0.0.1"
    )

    with caplog.at_level(logging.WARNING, logger="dealgate.web"):
        assert client_address(request) == "10.0.0.1"

    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "X-Forwarded-For" in record.getMessage()
    assert sent.split(",")[-1].strip() not in record.getMessage()


def test_an_ipv6_client_counts_by_its_64_network():
    same = address_key("2001:db8:1:2::1")

    assert address_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == same
    assert address_key("[2001:db8:1:2::abcd]:443") == same
    assert address_key("2001:db8:1:3::1") != same


def test_ipv4_addresses_count_one_by_one():
    assert address_key("203.0.113.9") != address_key("203.0.113.10")


def test_the_header_from_a_peer_that_is_no_proxy_is_ignored_and_said_once(
    settings, caplog
):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    forged = RequestFactory().get(
        "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="198.51.100.7"
    )

    with caplog.at_level(logging.WARNING, logger="dealgate.web"):
        counted = [client_address(forged) for _ in range(3)]

    assert counted == ["198.51.100.7"] * 3
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "X-Real-IP" in record.getMessage()
    assert "198.51.100.7" in record.getMessage()
    assert "203.0.113.9" not in record.getMessage()


def test_each_peer_that_is_no_proxy_is_named_once(settings, caplog):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    peers = ["198.51.100.7", "198.51.100.8", "198.51.100.7"]

    with caplog.at_level(logging.WARNING, logger="dealgate.web"):
        for peer in peers:
            request = RequestFactory().get(
                "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR=peer
            )
            client_address(request)

    named = [r.getMessage() for r in caplog.records]
    assert len(named) == 2
    assert "198.51.100.7" in named[0] and "198.51.100.8" in named[1]


def test_past_the_peers_remembered_no_more_are_named(settings, caplog, monkeypatch):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    monkeypatch.setattr(client, "_WARNED_PEERS_MAX", 2)

    with caplog.at_level(logging.WARNING, logger="dealgate.web"):
        for n in range(1, 5):
            request = RequestFactory().get(
                "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR=f"198.51.100.{n}"
            )
            assert client_address(request) == f"198.51.100.{n}"

    assert len(caplog.records) == 2
    assert len(client._WARNED_PEERS) == 2


@pytest.mark.parametrize(
    ("proxies", "peer"),
    [
        (["10.0.0.0/24"], "10.0.0.77"),
        (["2001:db8::5"], "2001:db8::5"),
        (["10.0.0.1"], "::ffff:10.0.0.1"),
        (["127.0.0.1", "::1"], "::1"),
    ],
)
def test_the_header_from_a_proxy_address_or_network_is_believed(
    settings, proxies, peer
):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = proxies
    request = RequestFactory().get("/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR=peer)

    assert client_address(request) == "203.0.113.9"


def test_a_network_of_the_other_family_does_not_take_the_peer_in(settings):
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["::/0"]
    request = RequestFactory().get(
        "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="198.51.100.7"
    )

    assert client_address(request) == "198.51.100.7"


def test_without_proxy_addresses_set_only_this_machine_is_believed(settings):
    # The default of DEALGATE_PROXY_ADDRESSES: a proxy on this machine.
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["127.0.0.1", "::1"]
    local = RequestFactory().get(
        "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="127.0.0.1"
    )
    remote = RequestFactory().get(
        "/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="10.0.0.1"
    )

    assert (client_address(local), client_address(remote)) == (
        "203.0.113.9",
        "10.0.0.1",
    )


def test_over_a_unix_socket_the_header_is_believed_as_gunicorn_believes_it(
    settings,
):
    # gunicorn gives a Unix socket's peer as no IP address; only this
    # machine can reach such a socket.
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    settings.PROXY_ADDRESSES = ["10.0.0.1"]
    request = RequestFactory().get("/", HTTP_X_REAL_IP="203.0.113.9", REMOTE_ADDR="")

    assert client_address(request) == "203.0.113.9"
