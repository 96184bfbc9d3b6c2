"""Pages count with the project's own filters (`counted`, `agreeing`), never
Django's `pluralize`: "1 open deal", "1,200 minutes"."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from tests.web.helpers import make_deal, text_of


@pytest.mark.parametrize("template", ["web/busy.html", "leads/form_busy.html"])
@pytest.mark.parametrize(
    ("minutes", "said"), [(1, "again in 1 minute."), (1200, "again in 1,200 minutes.")]
)
def test_a_busy_page_counts_the_minutes_to_wait(template, minutes, said):
    page = render_to_string(template, {"retry_minutes": minutes})

    assert said in page


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_board_says_one_open_deal_in_the_singular(signed_in, pipeline, now):
    make_deal(pipeline, "inquiry", value=250)

    text = text_of(signed_in.get(reverse("board")))

    assert "1 open deal · $250" in text
