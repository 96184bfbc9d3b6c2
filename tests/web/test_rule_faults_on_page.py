"""A rule stored before its faults were refused (a pipeline applied earlier)
still fails on every deal; the deal page says why in words, never in the
rule engine's debug text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            'now - deal.created_at > duration("2d")',
            "duration() cannot read &#x27;2d&#x27;: CEL durations are written in "
            "hours, minutes or seconds",
        ),
        (
            "duration(deal.title) > days(1)",
            "duration() was given text it cannot read as a duration",
        ),
        (
            "deal.title.matches(deal.title + '[')",
            "matches() was given a pattern it cannot use: unclosed character class",
        ),
    ],
)
def test_the_deal_page_says_in_words_why_a_rule_could_not_be_checked(
    client, pipeline, alice, rule, words
):
    stage = pipeline.stages.get(key="inquiry")
    stage.exit_criteria = {"mode": "all", "items": [{"label": "Aged", "rule": rule}]}
    stage.save()
    deal = Deal.objects.create(pipeline=pipeline, stage=stage, title="2d", owner=alice)
    client.force_login(alice)

    page = client.get(reverse("deal", args=[deal.pk])).content.decode()

    assert "could not be checked: " + words in page
    assert "Error {" not in page
    assert "Parsing Error" not in page
