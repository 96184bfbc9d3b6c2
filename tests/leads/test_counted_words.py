"""The leads pages count with the project's own filters (`counted`,
`agreeing`), never Django's `pluralize`: "1 lead", "1,200 leads ... are
waiting"."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.template.loader import get_template

from dealgate.leads.services import capture_lead
from tests.web.helpers import text_of

from .conftest import inquiry


def test_the_lead_report_counts_its_leads(client, routed, alice, now):
    capture_lead(inquiry(1), source="api")
    client.force_login(alice)

    text = text_of(client.get("/leads/report/"))

    assert "1 lead." in text
    assert "1 leads" not in text


@pytest.mark.parametrize(
    ("spooled", "said"),
    [
        (
            1,
            "1 lead received while the database was busy is waiting to be "
            "captured; it appears here at the sweeper's next run, with the time "
            "it was received.",
        ),
        (
            1200,
            "1,200 leads received while the database was busy are waiting to be "
            "captured; they appear here at the sweeper's next run, with the time "
            "they were received.",
        ),
    ],
)
def test_the_inbox_says_how_many_leads_wait_in_the_spool_in_agreeing_words(
    spooled, said
):
    line = _inbox_spool_line()

    text = Template("{% load dealgate_format %}" + line).render(
        Context({"spooled": spooled})
    )

    assert text.strip().startswith('<p class="summary" id="spooled">' + said)


def _inbox_spool_line() -> str:
    """The inbox's line about spooled leads, as the template writes it."""
    source = get_template("leads/inbox.html").template.source
    (line,) = [one for one in source.splitlines() if 'id="spooled"' in one]
    return line.removeprefix("{% if spooled %}").removesuffix("{% endif %}")
