"""Who is asking: the client address of a request, for limits per address.

One rule for every limit that counts per address (the lead form's rate limit,
sign-in failures). Behind a reverse proxy every request comes from the proxy;
DEALGATE_CLIENT_ADDRESS_HEADER names the header the proxy writes the client
address into (`X-Real-IP`, or Django's `HTTP_X_REAL_IP`). Of a list such as
`X-Forwarded-For` (`client, proxy1, proxy2`) the last entry is taken: the one
our own proxy appended, as a client can write any entries before it.

The header is believed only from the proxy: a connection whose own address
(REMOTE_ADDR) is one of DEALGATE_PROXY_ADDRESSES (by default this machine,
127.0.0.1 and ::1), or one over a Unix socket, which gunicorn trusts the same
way (its REMOTE_ADDR is no IP address). From any other peer the header is
ignored, with one warning per peer, and the connection's own address counts:
whoever reaches the server directly cannot pick an address to be counted
under.

The value is read as an address, not as text: a port is dropped
(`203.0.113.9:5555`, `[2001:db8::1]:443`), an IPv4 address written as IPv6
(`::ffff:203.0.113.9`) is the IPv4 address, and one that is no address at all
counts as the connection's own, with a warning naming the header. An IPv6
client is counted by its /64 network (`address_key`): one subscriber commonly
holds a whole /64, and would otherwise be a new client at every address in it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

log = logging.getLogger("dealgate.web")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The IPv6 prefix counted as one client: a subscriber's usual assignment.
IPV6_CLIENT_PREFIX = 64

# Peers whose header this worker has already warned about ignoring: each is
# named once, and at most this many are remembered, so a flood of direct
# connections from many addresses cannot grow the set without end.
_WARNED_PEERS: set[str] = set()
_WARNED_PEERS_MAX = 1024


def client_address(request: HttpRequest) -> str:
    """The client's address, in its canonical form: from the header a
    trusted proxy writes when one is configured, present and sent by the
    proxy (`from_proxy`), else the connection's own."""
    remote = request.META.get("REMOTE_ADDR", "")
    configured = getattr(settings, "CLIENT_ADDRESS_HEADER", "").strip()
    header = _meta_name(configured)
    sent = request.META.get(header, "") if header else ""
    if sent.strip() and not from_proxy(remote):
        _warn_ignored(configured, remote)
    elif sent.strip():
        address = parse_address(sent.split(",")[-1])
        if address is not None:
            return str(address)
        log.warning(
            "the client address header %s holds no address in its last entry; "
            "the connection's own address counts for this request",
            configured,
        )
    address = parse_address(remote)
    return str(address) if address is not None else remote


def from_proxy(remote: str) -> bool:
    """True when a connection from `remote` (REMOTE_ADDR) may name the client
    address: it is one of PROXY_ADDRESSES, or no IP address at all (a Unix
    socket, which only this machine can reach)."""
    peer = parse_address(remote)
    if peer is None:
        return True
    networks = _networks(tuple(settings.PROXY_ADDRESSES))
    return any(peer.version == n.version and peer in n for n in networks)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    # Checked in settings (proxy_addresses); parsed once per list.
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _warn_ignored(header: str, peer: str) -> None:
    if peer in _WARNED_PEERS or len(_WARNED_PEERS) >= _WARNED_PEERS_MAX:
        return
    _WARNED_PEERS.add(peer)
    log.warning(
        "ignored the client address header %s from %s, which is not one of "
        "DEALGATE_PROXY_ADDRESSES; its own address counts (said once per peer "
        "by each worker)",
        header,
        peer,
    )


def parse_address(value: str) -> Address | None:
    """`value` as an IP address without its port, IPv4-mapped IPv6 as IPv4;
    None when it is no address."""
    text = value.strip()
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not (rest[0] == ":" and _is_port(rest[1:]))):
            return None
        text = host
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def address_key(address: str) -> str:
    """A keyed hash of the client an address stands for (an IPv6 address's
    /64 network), for counting it without storing it."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        network = (int(parsed), IPV6_CLIENT_PREFIX)
        client = str(ipaddress.IPv6Network(network, strict=False))
    else:
        client = str(parsed) if parsed is not None else address
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, client.encode(), hashlib.sha256).hexdigest()


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) <= 65535


def _meta_name(header: str) -> str:
    """`X-Real-IP` as Django's request.META names it (`HTTP_X_REAL_IP`); a
    name already given that way is kept."""
    name = header.strip().upper().replace("-", "_")
    if not name or name.startswith("HTTP_") or name == "REMOTE_ADDR":
        return name
    return f"HTTP_{name}"
