"""The owner input of the deal page offers each person exactly the owners
the save lets them choose (`deals.services.may_own`), as New deal does."""

import re

from django.urls import reverse

from dealgate.deals.models import Deal

from .helpers import make_deal


def _owner_values(html: str) -> set[str]:
    start = html.index('name="owner"')
    select = html[start : html.index("</select>", start)]
    return set(re.findall(r'<option value="([^"]*)"', select))


def _page(client, deal: Deal) -> str:
    return client.get(reverse("deal", kwargs={"deal_id": deal.pk})).content.decode()


def test_a_rep_is_offered_only_themselves_as_owner_on_their_deal_page(
    client, pipeline, alice, bob, max_manager, now
):
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme", owner=alice)
    client.force_login(alice)

    assert _owner_values(_page(client, deal)) == {"alice"}


def test_a_rep_on_an_unowned_deal_may_keep_it_unowned_or_take_it(
    client, pipeline, alice, bob, now
):
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme", owner=None)
    client.force_login(alice)

    assert _owner_values(_page(client, deal)) == {"", "alice"}


def test_a_manager_is_offered_everyone_and_no_one(
    client, pipeline, alice, bob, max_manager, now
):
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme", owner=alice)
    client.force_login(max_manager)

    assert _owner_values(_page(client, deal)) == {"", "alice", "bob", "max"}


def test_every_owner_offered_to_a_rep_saves(client, pipeline, alice, bob, now):
    deal = make_deal(pipeline, "inquiry", title="Backup for Acme", owner=None)
    client.force_login(alice)

    for owner in sorted(_owner_values(_page(client, deal))):
        deal.refresh_from_db()
        response = client.post(
            reverse("deal-edit", args=[deal.pk]),
            {"version": deal.version, "title": deal.title, "owner": owner},
        )
        assert response.status_code == 302, (owner, response.content.decode())
