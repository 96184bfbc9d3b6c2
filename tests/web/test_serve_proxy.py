"""`dealgate serve` behind an HTTPS reverse proxy on another machine: the
proxy's address (DEALGATE_PROXY_ADDRESSES) may say a request came over
HTTPS, and the site's address (DEALGATE_SITE_URL) is the origin sign-ins
come from. 127.0.0.2 stands in for the proxy's machine: a loopback alias."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import urllib.parse

import pytest

from tests.web.test_serve import (  # noqa: F401 - server_env is a fixture
    PASSWORD,
    free_port,
    server_env,
    wait_for,
)

PROXY = "127.0.0.2"
SITE = "crm.example.com"


def through_proxy(
    port: int, method: str, path: str, body: str = "", **headers: str
) -> http.client.HTTPResponse:
    """A request as the proxy forwards one that came over HTTPS."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(PROXY, 0)
    )
    sent = {"Host": SITE, "X-Forwarded-Proto": "https", **headers}
    conn.request(method, path, body=body or None, headers=sent)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def sign_in_through_proxy(port: int) -> tuple[http.client.HTTPResponse, str]:
    """The login form fetched and posted through the proxy, with the Origin
    a browser sends; the POST's response and the GET's Set-Cookie."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(PROXY, 0)
    )
    conn.request("GET", "/login/", headers={"Host": SITE, "X-Forwarded-Proto": "https"})
    form = conn.getresponse()
    page = form.read().decode()
    conn.close()
    set_cookie = form.getheader("Set-Cookie")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    body = urllib.parse.urlencode(
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    posted = through_proxy(
        port,
        "POST",
        "/login/",
        body,
        Cookie=set_cookie.split(";")[0],
        Origin=f"https://{SITE}",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    return posted, set_cookie


def serving(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = int(os.environ.get("DEALGATE_TEST_PORT") or free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "dealgate", "serve", "--port", str(port)]
        + ["--workers", "1", "--no-sweeper"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()
    wait_for(port, process)
    return process, port


@pytest.mark.parametrize(
    ("variables", "signed_in", "secure"),
    [
        # Configured: the proxy is trusted and the site's origin known.
        (
            {"DEALGATE_SITE_URL": f"https://{SITE}", "DEALGATE_PROXY_ADDRESSES": PROXY},
            True,
            True,
        ),
        # Not configured: the host allowed, nothing else. gunicorn takes the
        # request for plain http, whose origin is not https://crm.example.com.
        ({"DEALGATE_ALLOWED_HOSTS": SITE}, False, False),
        # The site's origin alone lets the sign-in pass; without the proxy's
        # address the request is not known to be HTTPS, so no HSTS.
        ({"DEALGATE_SITE_URL": f"https://{SITE}"}, True, False),
    ],
    ids=["site-and-proxy", "neither", "site-only"],
)
def test_a_sign_in_through_a_proxy_on_another_address_passes_when_configured(
    server_env,  # noqa: F811 - the fixture imported above
    variables,
    signed_in,
    secure,
):
    process, port = serving({**server_env, **variables})
    try:
        posted, form_cookie = sign_in_through_proxy(port)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert posted.status == (302 if signed_in else 403)
    hsts = posted.getheader("Strict-Transport-Security")
    assert hsts == ("max-age=86400" if secure else None)
    cookie_is_secure = "; secure" in form_cookie.lower()
    assert cookie_is_secure == ("DEALGATE_SITE_URL" in variables)
    if signed_in:
        session = posted.getheader("Set-Cookie")
        assert "sessionid=" in session
        assert ("; secure" in session.lower()) == ("DEALGATE_SITE_URL" in variables)
