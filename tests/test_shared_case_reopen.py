"""The shared case "Reopening a won deal", through every door that shows it:
four deals, one won on 10 June, moved back to an open stage on 12 June (by
the deal page's form), won again on 20 June (by the API). In between it is
open everywhere: the board, the deal page, the API and the insights."""

from __future__ import annotations

import datetime as dt
import json

from django.urls import reverse

from dealgate import timesource
from dealgate.deals.models import Deal, StageEvent
from dealgate.deals.queries import board_for
from dealgate.insights import queries
from dealgate.insights.filters import read_filters


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, 0, tzinfo=dt.UTC)


def won_count(pipeline, now: dt.datetime) -> int:
    filters = read_filters({"pipeline": pipeline.key, "period": "all"}, now=now)
    return queries.outcomes(filters)[0].won


def test_a_reopened_win_is_open_everywhere_until_won_again(client, pipeline, alice):
    inquiry = pipeline.stages.get(key="inquiry")
    deals = [
        Deal.objects.create(
            pipeline=pipeline,
            stage=inquiry,
            title=f"Deal {n}",
            owner=alice,
            created_at=at(1),
            stage_entered_at=at(1),
        )
        for n in range(4)
    ]
    deal = deals[0]
    client.force_login(alice)

    def post_move(to: str, version: int):
        return client.post(
            reverse("deal-move", args=[deal.pk]), {"to": to, "version": version}
        )

    with timesource.frozen_at(at(10)):
        assert post_move("won", 1).status_code == 302
        assert won_count(pipeline, at(10)) == 1
        assert board_for(pipeline, now=at(10)).open_count == 3

    with timesource.frozen_at(at(12)):
        assert post_move("inquiry", 2).status_code == 302
        deal.refresh_from_db()
        assert (deal.status, deal.closed_at) == ("open", None)
        board = board_for(pipeline, now=at(12))
        assert board.open_count == 4
        assert board.columns[0].count == 4
        assert deal.pk in [card.id for card in board.columns[0].cards]
        page = client.get(reverse("deal", args=[deal.pk])).content.decode()
        assert "<dt>Status</dt><dd>Open</dd>" in page
        assert "<dt>Closed</dt>" not in page
        shown = client.get(f"/api/v1/deals/{deal.pk}").json()
        assert (shown["status"], shown["closed_at"]) == ("open", None)
        assert won_count(pipeline, at(12)) == 0

    with timesource.frozen_at(at(20)):
        response = client.post(
            f"/api/v1/deals/{deal.pk}/move",
            json.dumps({"to": "won", "version": 3}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        deal.refresh_from_db()
        assert deal.closed_at.date() == dt.date(2026, 6, 20)
        assert won_count(pipeline, at(20)) == 1
        assert board_for(pipeline, now=at(20)).open_count == 3

    history = StageEvent.objects.filter(deal=deal).order_by("at", "id")
    assert [(e.from_status, e.to_status) for e in history] == [
        ("open", "won"),
        ("won", "open"),
        ("open", "won"),
    ]
    assert [e.at for e in history] == [at(10), at(12), at(20)]
