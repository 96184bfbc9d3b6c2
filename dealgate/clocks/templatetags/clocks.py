"""Template tags for clocks: the notice count, what runs out on a deal.

    {% load clocks %}
    {% clocks_nav %}                 Today and Notices (3) links, for the top bar
    {% unread_notice_count as n %}   the signed-in person's unread notices
    {% deal_deadlines deal %}        a deal's open deadlines in words (1 query)
    {{ deadline.text }}              "answer within 3 business minutes"

For board cards, load many deals' deadlines at once with
`dealgate.clocks.queries.deadlines_for_deals(ids, now)`.
"""

from __future__ import annotations

from typing import Any

from django import template

from dealgate import timesource

from ..notices import unread_count
from ..queries import deadlines_for_deal

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notice_count(context: dict[str, Any]) -> int:
    user = getattr(context.get("request"), "user", None)
    return unread_count(user) if user is not None and user.is_authenticated else 0


@register.inclusion_tag("clocks/_nav.html", takes_context=True)
def clocks_nav(context: dict[str, Any]) -> dict[str, Any]:
    return {"unread": unread_notice_count(context)}


@register.inclusion_tag("clocks/_deadlines.html")
def deal_deadlines(deal: Any) -> dict[str, Any]:
    return {"deadlines": deadlines_for_deal(deal.pk, timesource.now())}
