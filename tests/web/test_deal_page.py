import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal, Organization, Person, Product, StageEvent
from tests.conftest import NOW

from .helpers import make_deal, text_of


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def full_deal(pipeline, alice, max_manager):
    acme = Organization.objects.create(name="Acme GmbH")
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "int"}]
    pipeline.save()
    deal = Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="proposal"),
        title="Helpdesk for 40 seats",
        organization=acme,
        contact=Person.objects.create(
            name="Jana Novak", email="jana@acme.example", organization=acme
        ),
        product=Product.objects.create(name="Managed helpdesk"),
        owner=alice,
        responsible=max_manager,
        checklist={"budget_confirmed": True, "decision_date_named": False},
        value=Decimal("18500.50"),
        currency="EUR",
        custom={"seats": 40, "legacy_code": "HX-7"},
        created_at=NOW - dt.timedelta(days=20),
        stage_entered_at=NOW - dt.timedelta(days=12),
        expected_close_date=dt.date(2026, 7, 31),
    )
    inquiry, discovery, proposal = (
        pipeline.stages.get(key=key) for key in ("inquiry", "discovery", "proposal")
    )
    StageEvent.objects.create(
        deal=deal,
        to_stage=inquiry,
        to_status="open",
        at=NOW - dt.timedelta(days=20),
        by=alice,
        source="import",
    )
    StageEvent.objects.create(
        deal=deal,
        from_stage=inquiry,
        to_stage=discovery,
        to_status="open",
        at=NOW - dt.timedelta(days=15),
        by=alice,
    )
    StageEvent.objects.create(
        deal=deal,
        from_stage=discovery,
        to_stage=proposal,
        to_status="open",
        at=NOW - dt.timedelta(days=12),
        by=max_manager,
        override_reason="Buyer asked for a quote on the call",
    )
    return deal


def test_the_deal_page_needs_a_login(client, full_deal):
    response = client.get(reverse("deal", args=[full_deal.pk]))

    assert response.status_code == 302


def test_the_deal_page_shows_every_field(signed_in, full_deal, now):
    text = text_of(signed_in.get(reverse("deal", args=[full_deal.pk])))

    for expected in [
        "Helpdesk for 40 seats",
        "Organization Acme GmbH",
        "Contact Jana Novak · jana@acme.example",
        "Product Managed helpdesk",
        "Owner Alice Rep",
        "Responsible for moving it Max Manager",
        "Checklist budget_confirmed: done decision_date_named: not done",
        "Value €18,500.50",
        "Status Open",
        "Stage Proposal requested",
        # In the pipeline's zone (12:00 UTC), which the page names.
        "Times are in Europe/Berlin.",
        "Created 21 May 2026, 14:00",
        "In this stage since 29 May 2026, 14:00",
        "Expected close 31 Jul 2026",
        "Seats 40",
        "legacy_code HX-7",
    ]:
        assert expected in text


def test_the_deal_page_shows_time_in_stage_against_the_limit(signed_in, full_deal, now):
    text = text_of(signed_in.get(reverse("deal", args=[full_deal.pk])))

    # Fri 29 May 14:00 to Wed 10 Jun 14:00 in Berlin: eight working days.
    assert "8 of 10 business days in stage" in text
    assert "at risk" not in text


def test_the_deal_page_lists_the_stage_history_with_overrides(
    signed_in, full_deal, now
):
    text = text_of(signed_in.get(reverse("deal", args=[full_deal.pk])))

    assert "(new) Inquiry received 21 May 2026, 14:00 Alice Rep import —" in text
    assert (
        "Discovery call booked Proposal requested 29 May 2026, 14:00 Max Manager web"
        " Buyer asked for a quote on the call"
    ) in text


def test_the_deal_page_says_when_the_entry_date_is_unknown(signed_in, pipeline, now):
    deal = make_deal(pipeline, "inquiry", days_in_stage=None)

    text = text_of(signed_in.get(reverse("deal", args=[deal.pk])))

    assert "Open in Inquiry received · entered: unknown" in text
    assert "In this stage since unknown" in text
    assert "No stage changes recorded." in text


def test_a_lost_deal_shows_its_loss_reason_and_no_age(signed_in, pipeline, now):
    deal = make_deal(pipeline, "review", status="lost")
    Deal.objects.filter(pk=deal.pk).update(loss_reason="price", loss_note="Too dear")
    review = pipeline.stages.get(key="review")
    StageEvent.objects.create(
        deal=deal,
        from_stage=review,
        to_stage=review,
        from_status="open",
        to_status="lost",
        loss_reason="price",
        at=NOW,
    )

    text = text_of(signed_in.get(reverse("deal", args=[deal.pk])))

    # By the reason's label, as the move form offers it.
    assert "Loss reason Price: Too dear" in text
    assert "business days" not in text
    assert "Proposal reviewed by the buyer Lost (Price)" in text


def test_a_loss_reason_the_pipeline_no_longer_lists_shows_its_key(
    signed_in, pipeline, now
):
    deal = make_deal(pipeline, "review", status="lost")
    Deal.objects.filter(pk=deal.pk).update(loss_reason="budget-cut")

    text = text_of(signed_in.get(reverse("deal", args=[deal.pk])))

    assert "Loss reason budget-cut" in text


def test_an_unknown_deal_is_not_found(signed_in, db):
    assert signed_in.get(reverse("deal", args=[999])).status_code == 404


def test_a_rep_reads_why_they_cannot_change_a_colleagues_deal_instead_of_forms(
    client, bob, full_deal, now
):
    client.force_login(bob)

    page = client.get(reverse("deal", args=[full_deal.pk]))

    text = text_of(page)
    assert "belongs to someone outside your deals" in text
    assert reverse("deal-move", args=[full_deal.pk]) not in page.content.decode()
    assert reverse("deal-edit", args=[full_deal.pk]) not in page.content.decode()


def test_a_deal_with_nothing_running_says_so(signed_in, full_deal, now):
    from dealgate.clocks.models import Clock

    Clock.objects.filter(deal=full_deal).delete()

    text = text_of(signed_in.get(reverse("deal", args=[full_deal.pk])))

    assert "No response window, age limit or next step is running." in text
