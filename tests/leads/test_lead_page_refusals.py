"""A refused form on a lead's page answers as a deal's page does: the page
again, with the refusal in words and the status of the refusal (422 for
what was typed, 403 for who may not, 409 for a lead closed meanwhile, 404
for a thing the address names that is not there), never a redirect that
ends in a 200. The refused form keeps what was typed."""

from __future__ import annotations

import pytest

from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.services import capture_lead, disqualify_lead
from tests.web.helpers import make_deal, text_of

from .conftest import inquiry

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(routed, alice, now) -> Lead:
    lead = capture_lead(inquiry(1), source="api").lead
    assert lead.owner == alice
    return lead


@pytest.fixture
def open_other(lead, olivia) -> Lead:
    """Another open lead, with `lead` disqualified."""
    other = capture_lead(inquiry(2), source="api").lead
    disqualify_lead(lead.pk, "spam", by=olivia)
    lead.refresh_from_db()
    return other


def _post(client, lead: Lead, action: str, data: dict[str, str]):
    return client.post(f"/leads/{lead.pk}/{action}/", data)


def _unchanged(lead: Lead) -> None:
    status = lead.status
    lead.refresh_from_db()
    assert lead.status == status


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        (
            "activity",
            {"kind": "dance", "subject": "Called back"},
            "kind must be call, email, meeting or note, got 'dance'",
        ),
        (
            "activity",
            {"kind": "call", "subject": "two\nlines"},
            "subject must be one line, without line breaks or control characters",
        ),
        ("disqualify", {"reason": ""}, "a disqualified lead needs a reason"),
        ("disqualify", {"reason": " \u200b "}, "reason"),
        (
            "assign",
            {"owner": "nobody", "note": "back from leave"},
            "owner: there is no user 'nobody'; pick one from the list",
        ),
        (
            "convert",
            {"stage": "nope"},
            "pipeline 'new-business' has no open stage 'nope' (inquiry, discovery,",
        ),
        (
            "merge",
            {"into": "nonsense"},
            'say what to merge into: "lead 12" or "deal 7"',
        ),
        ("merge", {"into": "lead 999999"}, "no lead with id 999999"),
        ("merge", {"into": "deal 999999"}, "no deal with id 999999"),
    ],
)
def test_a_refused_form_shows_the_lead_again_with_422_and_why(
    client, lead, olivia, action, data, message
):
    client.force_login(olivia)

    response = _post(client, lead, action, data)

    assert response.status_code == 422
    assert response.templates[0].name == "leads/lead.html"
    assert message in text_of(response)
    _unchanged(lead)


def test_a_lead_merged_into_itself_is_refused_with_422(client, lead, olivia):
    client.force_login(olivia)

    response = _post(client, lead, "merge", {"into": f"lead {lead.pk}"})

    assert response.status_code == 422
    assert "a lead cannot be merged into itself" in text_of(response)
    _unchanged(lead)


def test_the_refused_form_keeps_what_was_typed(client, lead, olivia, alice):
    client.force_login(olivia)

    merge = _post(client, lead, "merge", {"into": "lead twelve"}).content.decode()
    assign = _post(
        client, lead, "assign", {"owner": "alice", "note": "x" * 201}
    ).content.decode()
    activity = _post(
        client, lead, "activity", {"kind": "email", "subject": "a\nb"}
    ).content.decode()

    assert 'value="lead twelve"' in merge
    assert f'value="{"x" * 201}"' in assign
    assert '<option value="alice" selected>' in assign
    assert '<option value="email" selected>' in activity
    # Not ticked when sent: the form shows it as it was sent.
    assert 'name="outbound" checked' not in activity


def test_an_untouched_page_ticks_outbound_and_fills_nothing(client, lead, olivia):
    client.force_login(olivia)

    page = client.get(f"/leads/{lead.pk}/").content.decode()

    assert 'name="outbound" checked' in page
    assert 'id="into" placeholder="lead 12 or deal 7" required value=""' in page
    assert " selected>" not in page


def test_a_rep_assigning_is_refused_with_403(client, lead, alice, bob):
    client.force_login(alice)

    response = _post(client, lead, "assign", {"owner": "bob"})

    assert response.status_code == 403
    assert "only a manager may assign leads" in text_of(response)
    lead.refresh_from_db()
    assert lead.owner == alice


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("disqualify", {"reason": "again"}, "is disqualified; it cannot be"),
        ("assign", {"owner": "bob"}, "is disqualified; it cannot be assigned"),
        ("convert", {}, "is disqualified; it cannot be converted"),
    ],
)
def test_an_action_on_a_closed_lead_is_refused_with_409(
    client, lead, open_other, olivia, bob, action, data, message
):
    client.force_login(olivia)

    response = _post(client, lead, action, data)

    assert response.status_code == 409
    assert f"lead {lead.pk} {message}" in text_of(response)
    _unchanged(lead)


def test_merging_into_a_closed_lead_is_refused_with_409(
    client, lead, open_other, olivia
):
    client.force_login(olivia)

    response = _post(client, open_other, "merge", {"into": f"lead {lead.pk}"})

    assert response.status_code == 409
    assert f"lead {lead.pk} is disqualified; merge into an open one" in (
        text_of(response)
    )
    _unchanged(open_other)


def test_a_task_not_on_the_lead_is_refused_with_404(client, lead, olivia):
    client.force_login(olivia)

    response = client.post(f"/leads/{lead.pk}/tasks/999999/done/")

    assert response.status_code == 404
    assert f"no task with id 999999 on lead {lead.pk}" in text_of(response)


def test_a_split_of_no_decision_shows_the_decisions_with_404(client, lead, olivia):
    client.force_login(olivia)

    response = client.post("/leads/decisions/999999/split/")

    assert response.status_code == 404
    assert response.templates[0].name == "leads/decisions.html"
    assert "no de-duplication decision 999999" in text_of(response)


def test_a_split_done_already_goes_back_saying_so(client, lead, olivia):
    repeat = capture_lead(inquiry(1, message="Again"), source="form").decision
    client.force_login(olivia)
    client.post(f"/leads/decisions/{repeat.pk}/split/")

    again = client.post(f"/leads/decisions/{repeat.pk}/split/", follow=True)

    assert again.redirect_chain == [("/leads/decisions/", 302)]
    assert f"decision {repeat.pk} was already undone" in text_of(again)
    assert DedupDecision.objects.get().undone_at is not None


def test_a_new_lead_for_a_pipeline_that_is_not_there_is_refused_with_422(
    client, routed, olivia
):
    client.force_login(olivia)

    response = client.post(
        "/leads/new/", {"pipeline": "nope", "name": "Walk-in", "phone": "030 1234567"}
    )

    assert response.status_code == 422
    assert "Pipeline: no pipeline 'nope'" in text_of(response)
    assert not Lead.objects.exists()


def test_a_merge_into_another_reps_deal_keeps_its_403(client, lead, alice, bob):
    deal = make_deal(lead.pipeline, "discovery", owner=bob)
    client.force_login(alice)

    response = _post(client, lead, "merge", {"into": f"deal {deal.pk}"})

    assert response.status_code == 403
    assert f"deal {deal.pk} belongs to someone outside your deals" in (
        text_of(response)
    )
