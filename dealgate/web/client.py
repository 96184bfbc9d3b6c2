"""Who is asking: the client address of a request, for limits per address.

One rule for every limit that counts per address (the lead form's rate limit,
sign-in failures). Behind a reverse proxy every request comes from the proxy;
DEALGATE_CLIENT_ADDRESS_HEADER names the header the proxy writes the client
address into (`X-Real-IP`, or Django's `HTTP_X_REAL_IP`). Of a list such as
`X-Forwarded-For` (`client, proxy1, proxy2`) the last entry is taken: the one
our own proxy appended, as a client can write any entries before it. Only set
it when a proxy you run writes that header, or every client could pick its
own address.

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

from django.conf import settings
from django.http import HttpRequest

log = logging.getLogger("dealgate.web")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The IPv6 prefix counted as one client: a subscriber's usual assignment.
IPV6_CLIENT_PREFIX = 64


def client_address(request: HttpRequest) -> str:
    """The client's address, in its canonical form: from the trusted proxy's
    header when one is configured and present, else the connection's own."""
    remote = request.META.get("REMOTE_ADDR", "")
    configured = getattr(settings, "CLIENT_ADDRESS_HEADER", "")
    header = _meta_name(configured)
    sent = request.META.get(header, "") if header else ""
    if sent.strip():
        address = parse_address(sent.split(",")[-1])
        if address is not None:
            return str(address)
        log.warning(
            "the client address header %s holds no address in its last entry; "
            "the connection's own address counts for this request",
            configured.strip(),
        )
    address = parse_address(remote)
    return str(address) if address is not None else remote


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
