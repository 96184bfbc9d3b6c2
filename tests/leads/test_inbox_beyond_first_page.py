"""The inbox shows the first rows of each section: every further lead must
still be reachable from it, or a manager cannot assign the newest leads."""

from __future__ import annotations

import re

from dealgate.leads.services import capture_lead
from dealgate.leads.views import INBOX_ROWS
from tests.web.helpers import text_of

from .conftest import inquiry


def test_a_new_lead_past_the_inbox_rows_is_reachable_from_the_inbox(
    client, pipeline, max_manager
):
    for n in range(1, INBOX_ROWS + 2):
        capture_lead(inquiry(n), source="api")
    newest = f"Person {INBOX_ROWS + 1}"
    client.force_login(max_manager)

    page = client.get("/leads/")
    pages = [text_of(page)] + [
        text_of(client.get(href.replace("&amp;", "&")))
        for href in set(re.findall(r'href="(/leads/\?[^"]+)"', page.content.decode()))
    ]

    assert "New, waiting for an owner (101)" in pages[0]
    assert any(re.search(rf"\b{newest}\b", text) for text in pages)
