"""The weekly review's decision when two people write the same week at once
(found by helper gil: the owner and her manager, each in their own tab)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.web.helpers import text_of

THIS_WEEK = dt.date(2026, 6, 8)  # the Monday of NOW's week


def _write(client, pipeline, decision: str, seen: str):
    return client.post(
        reverse("insights:review"),
        {
            "pipeline": pipeline.key,
            "week": THIS_WEEK.isoformat(),
            "metric": "win_rate",
            "decision": decision,
            "seen": seen,
        },
    )


@pytest.mark.xfail(
    strict=True,
    reason="a decision refused because another was written meanwhile is "
    "dropped: the form comes back holding the other person's words, so what "
    "was typed must be typed again from memory",
)
def test_a_decision_refused_as_written_meanwhile_comes_back_as_typed(
    client, pipeline, olivia, max_manager, now
):
    client.force_login(max_manager)
    assert (
        _write(client, pipeline, "Coach the reps on first replies", "").status_code
        == 302
    )
    client.force_login(olivia)

    refused = _write(client, pipeline, "Raise prices for managed services", "")

    assert refused.status_code == 409
    textarea = (
        refused.content.decode().split('name="decision"')[1].split("</textarea>")[0]
    )
    assert "Raise prices for managed services" in textarea
    assert "Coach the reps on first replies" in text_of(refused)
