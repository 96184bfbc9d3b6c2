"""Who is asking: the client address of a request, for limits per address.

One rule for every limit that counts per address (the lead form's rate limit,
sign-in failures). Behind a reverse proxy every request comes from the proxy;
DEALGATE_CLIENT_ADDRESS_HEADER names the header the proxy writes the client
address into (`X-Real-IP`, or Django's `HTTP_X_REAL_IP`). Of a list such as
`X-Forwarded-For` the last entry is taken: the one our own proxy appended, as
a client can write any entries before it. Only set it when a proxy you run
writes that header, or every client could pick its own address.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address: from the trusted proxy's header when one is
    configured and present, else the connection's own."""
    header = _meta_name(getattr(settings, "CLIENT_ADDRESS_HEADER", ""))
    address = request.META.get(header, "") if header else ""
    return address.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", "")


def address_key(address: str) -> str:
    """A keyed hash of an address, for counting it without storing it."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def _meta_name(header: str) -> str:
    """`X-Real-IP` as Django's request.META names it (`HTTP_X_REAL_IP`); a
    name already given that way is kept."""
    name = header.strip().upper().replace("-", "_")
    if not name or name.startswith("HTTP_") or name == "REMOTE_ADDR":
        return name
    return f"HTTP_{name}"
