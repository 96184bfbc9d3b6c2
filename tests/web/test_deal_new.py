"""The new-deal page, the board's way in, and owner and organization on the
deal page's edit form; no browser."""

import logging

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal, Organization, StageEvent

from .helpers import make_deal, text_of

NEW = reverse("deal-new")


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_an_empty_board_says_how_to_get_deals_in(signed_in, pipeline, now):
    text = text_of(signed_in.get(reverse("board")))

    assert "0 open deals" in text
    assert "No open deals yet. To get deals in: create a new deal" in text
    assert "convert a lead from Leads" in text
    assert "dealgate import deals FILE --mapping NAME" in text


def test_the_board_links_to_the_new_deal_page_of_its_pipeline(signed_in, pipeline, now):
    make_deal(pipeline, "inquiry")
    page = signed_in.get(reverse("board")).content.decode()

    assert f'href="{NEW}?pipeline=new-business">New deal</a>' in page
    assert "No open deals yet" not in text_of(signed_in.get(reverse("board")))


def test_the_form_offers_the_creator_as_owner_and_the_first_stage(
    signed_in, pipeline, bob
):
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()

    response = signed_in.get(f"{NEW}?pipeline=new-business")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="alice" selected>Alice Rep</option>' in page
    assert '<option value="inquiry" selected>Inquiry received</option>' in page
    assert 'name="currency"' in page and 'value="USD"' in page
    assert 'name="custom:seats"' in page and 'name="notes"' in page


def test_a_rep_is_offered_only_themselves_as_owner_a_manager_anyone(
    client, signed_in, pipeline, bob, max_manager
):
    page = signed_in.get(f"{NEW}?pipeline=new-business").content.decode()
    owner = page[
        page.index('name="owner"') : page.index("</select>", page.index('name="owner"'))
    ]
    assert '<option value="alice" selected>Alice Rep</option>' in owner
    assert "bob" not in owner and "no one" not in owner

    client.force_login(max_manager)
    page = client.get(f"{NEW}?pipeline=new-business").content.decode()
    owner = page[
        page.index('name="owner"') : page.index("</select>", page.index('name="owner"'))
    ]
    assert '<option value="bob">Bob Rep</option>' in owner and "no one" in owner


def test_a_posted_deal_is_created_and_its_page_shown(signed_in, pipeline, now):
    Organization.objects.create(name="Contoso")

    response = signed_in.post(
        f"{NEW}?pipeline=new-business",
        {
            "title": "Backup for Contoso",
            "organization": "Contoso",
            "value": "12,000.50",
            "currency": "eur",
            "owner": "alice",
            "expected_close_date": "2026-09-30",
            "stage": "inquiry",
            "notes": "Asked at the fair.\nCall back in June.",
        },
    )

    deal = Deal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("deal", args=[deal.pk])
    assert (deal.organization.name, str(deal.value), deal.currency) == (
        "Contoso",
        "12000.50",
        "EUR",
    )
    assert deal.notes == "Asked at the fair.\nCall back in June."
    assert Organization.objects.count() == 1
    event = StageEvent.objects.get(deal=deal)
    assert (event.by.username, event.at, event.source) == ("alice", now, "web")


def test_unreadable_inputs_are_named_and_nothing_is_created(signed_in, pipeline):
    response = signed_in.post(
        f"{NEW}?pipeline=new-business",
        {"title": "", "value": "lots", "expected_close_date": "31/07/2026"},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "Title: a deal needs a title" in text
    assert "Value: 'lots' is not a number" in text
    assert "'31/07/2026' is not a date like 2026-07-31" in text
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("posted", "shown"),
    [
        (
            {"expected_close_date": "1850-01-01"},
            "Expected close date: must lie between 1901 and 2198, not in 1850",
        ),
        ({"currency": "XYZ"}, "must be a three-letter ISO 4217 code"),
        ({"owner": "bob"}, "Owner: a rep creates deals they own, not for bob"),
    ],
)
def test_a_refusal_of_the_service_is_shown_at_its_input(
    signed_in, pipeline, bob, now, posted, shown
):
    response = signed_in.post(
        f"{NEW}?pipeline=new-business", {"title": "X", "owner": "alice", **posted}
    )

    assert response.status_code in (403, 422)
    assert shown in text_of(response)
    assert not Deal.objects.exists()


def test_unmet_gates_are_listed_above_the_form(signed_in, pipeline, now):
    proposal = pipeline.stages.get(key="proposal")
    proposal.entry_criteria = [
        {"label": "Budget confirmed", "rule": "checklist.budget == true"},
        {"label": "Value known", "rule": "deal.value != null"},
    ]
    proposal.save()

    response = signed_in.post(
        f"{NEW}?pipeline=new-business",
        {"title": "Late", "owner": "alice", "stage": "proposal"},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "Refused:" in text and "Budget confirmed" in text
    assert "Value known" in text
    assert 'value="Late"' in response.content.decode()  # what was typed stays
    assert not Deal.objects.exists()


def test_an_unknown_pipeline_is_a_404(signed_in, pipeline):
    assert signed_in.get(f"{NEW}?pipeline=renewals").status_code == 404


def test_the_edit_form_changes_owner_and_organization(
    client, max_manager, alice, bob, pipeline, now
):
    deal = make_deal(pipeline, "inquiry", owner=alice, organization="Acme")
    client.force_login(max_manager)
    page = client.get(reverse("deal", args=[deal.pk])).content.decode()
    assert '<option value="alice" selected>Alice Rep</option>' in page

    response = client.post(
        reverse("deal-edit", args=[deal.pk]),
        {
            "version": deal.version,
            "title": deal.title,
            "owner": "bob",
            "organization": "Initech",
        },
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.owner, deal.organization.name, deal.version) == (bob, "Initech", 2)


def test_an_edit_that_leaves_owner_and_organization_does_not_log_them(
    signed_in, alice, pipeline, now, caplog, django_capture_on_commit_callbacks
):
    deal = make_deal(pipeline, "inquiry", owner=alice, organization="Acme")

    with (
        caplog.at_level(logging.INFO, logger="dealgate.deals"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        signed_in.post(
            reverse("deal-edit", args=[deal.pk]),
            {
                "version": deal.version,
                "title": "Renamed",
                "owner": "alice",
                "organization": "Acme",
            },
        )

    assert "owner" not in caplog.text and "organization" not in caplog.text
    deal.refresh_from_db()
    assert deal.title == "Renamed"


def test_a_deal_page_date_outside_1901_to_2198_is_refused_at_its_input(
    signed_in, alice, pipeline, now
):
    deal = make_deal(pipeline, "inquiry", owner=alice)

    response = signed_in.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": "X", "expected_close_date": "1850-01-01"},
    )

    assert response.status_code == 422
    assert "Expected close date: must lie between 1901" in (text_of(response))
    deal.refresh_from_db()
    assert deal.expected_close_date is None and deal.version == 1


def test_the_form_names_stages_and_owners_as_the_board_does(
    client, olivia, pipeline, alice, now
):
    client.force_login(olivia)
    html = client.get(f"{NEW}?pipeline=new-business").content.decode()

    stages, owners = _select(html, "stage"), _select(html, "owner")

    assert ">Proposal reviewed by the buyer<" in stages
    assert ">Alice Rep<" in owners
    # People sorted by the name shown: Alice Rep before Olivia Owner.
    assert owners.index(">Alice Rep<") < owners.index(">Olivia Owner<")


def _select(html: str, name: str) -> str:
    start = html.index(f'name="{name}"')
    return html[start : html.index("</select>", start)]
