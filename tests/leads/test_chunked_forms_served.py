"""`dealgate serve` (gunicorn) reads a form sent in chunks to a page, as a
script that streams sends it: `Transfer-Encoding: chunked` and no
Content-Length, over a raw socket. The public lead form captured such a
form as empty, and a signed-in script's chunked `stage=proposal` to a
lead's conversion converted it into the first stage, past the criteria
that would have refused it.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.parse
from typing import Any

from tests.api.test_chunked_bodies_served import chunked, served  # noqa: F401
from tests.conftest import PASSWORD


def post_chunked(port: int, path: str, form: dict[str, str], **headers: str) -> Any:
    """`form` urlencoded and sent in chunks with no Content-Length; the
    answer's status, headers and body."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        "Transfer-Encoding: chunked",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    head = "\r\n".join(lines) + "\r\n\r\n"
    body = chunked(urllib.parse.urlencode(form).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read().decode()


def sign_in(port: int, username: str) -> dict[str, str]:
    """The cookies of a session signed in through the form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookies = _cookies(response)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/login/",
        body=urllib.parse.urlencode(form),
        headers={
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return {**cookies, **_cookies(response)}


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    pairs = (c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
    return dict(pair.split("=", 1) for pair in pairs)


def api_lead(port: int, secret: str, lead_id: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "GET", f"/api/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {secret}"}
    )
    response = conn.getresponse()
    assert response.status == 200, response.status
    return json.loads(response.read())


def test_the_server_reads_a_chunked_form_on_the_lead_form_and_a_lead_page(
    served,  # noqa: F811
):
    port, secret = served
    inquiry = {"name": "Ann", "email": "ann@fabrikam.example", "company": "Fabrikam"}

    thanked = post_chunked(port, "/leads/form/it-services/", inquiry)
    captured = api_lead(port, secret, 1)
    cookies = sign_in(port, "olivia")
    converted = post_chunked(
        port,
        "/leads/1/convert/",
        {"stage": "proposal"},
        Cookie="; ".join(f"{k}={v}" for k, v in cookies.items()),
        **{"X-CSRFToken": cookies["csrftoken"]},
    )
    after = api_lead(port, secret, 1)

    assert thanked[0] == 200, thanked
    assert "Thank you" in thanked[2]
    assert (captured["email"], captured["company"]) == (
        "ann@fabrikam.example",
        "Fabrikam",
    )
    # Refused by the proposal stage's criteria (the lead page shown again
    # with its refusal), not converted into the first stage.
    assert converted[0] == 422, converted
    assert "cannot become a deal in &#x27;Proposal requested&#x27; yet" in converted[2]
    assert after["status"] == captured["status"] != "converted"
    assert after["deal"] is None
