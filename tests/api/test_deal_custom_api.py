"""PATCH /api/v1/deals/<id> takes custom values only as the pipeline types them."""

import datetime as dt

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

# The kinds of field examples/pipelines/it-services.toml declares.
CUSTOM_FIELDS = [
    {"key": "budget", "label": "Budget range", "type": "number"},
    {"key": "call_date", "label": "Discovery call date", "type": "date"},
    {"key": "decision_maker_seen", "label": "Decision maker seen", "type": "bool"},
    {
        "key": "engagement",
        "label": "Kind of engagement",
        "type": "choice",
        "choices": ["Fixed-price project", "Retainer"],
    },
    {"key": "need", "label": "Need", "type": "text"},
]


@pytest.fixture
def deal(pipeline, alice):
    pipeline.custom_fields = CUSTOM_FIELDS
    pipeline.save()
    return Deal.objects.create(
        pipeline=pipeline,
        stage=pipeline.stages.get(key="discovery"),
        title="Firewall refresh",
        owner=alice,
        created_at=T0,
        stage_entered_at=T0,
        custom={"need": "A firewall", "legacy_code": "HX-7"},
    )


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def patch(api, deal, body):
    return api.patch(f"/api/v1/deals/{deal.pk}", body, content_type="application/json")


def test_custom_values_of_the_declared_types_are_saved(api, deal):
    custom = {
        "budget": 18500.0,
        "call_date": "2026-07-01",
        "decision_maker_seen": True,
        "engagement": "Retainer",
        "need": "Two sites",
        "legacy_code": "HX-7",
    }

    response = patch(api, deal, {"version": 1, "custom": custom})

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    # A whole number stays whole, as the edit form stores it.
    assert deal.custom == {**custom, "budget": 18500}
    assert deal.version == 2


@pytest.mark.parametrize(
    ("custom", "field", "says"),
    [
        ({"budget": "lots"}, "custom.budget", "'lots' is not a number; write it"),
        ({"budget": "1_000"}, "custom.budget", "'1_000' is not a number; write 1000"),
        ({"budget": "12,50"}, "custom.budget", "'12,50' is not a number; write 12.5"),
        ({"budget": True}, "custom.budget", "true is not a number"),
        (
            {"budget": 10**13},
            "custom.budget",
            "the most it holds is 999,999,999,999.99",
        ),
        (
            {"engagement": "Bribery"},
            "custom.engagement",
            "'Bribery' is not one of Fixed-price project, Retainer",
        ),
        (
            {"call_date": "yesterday"},
            "custom.call_date",
            "'yesterday' is not a date like 2026-07-31",
        ),
        (
            {"decision_maker_seen": "yes"},
            "custom.decision_maker_seen",
            "'yes' is not true or false",
        ),
        ({"need": 5}, "custom.need", "5 is not text"),
        (
            {"need": "A fire\x1b[31mwall"},
            "custom.need",
            "must not hold control characters other than line breaks and tabs",
        ),
        ({"need": ["a"]}, "custom.need", "a list is not text"),
        (
            {"bogus_key": {}},
            "custom.bogus_key",
            "the pipeline has no custom field 'bogus_key'; its fields: budget, "
            "call_date, decision_maker_seen, engagement, need",
        ),
        ({"legacy_code": "HX-8"}, "custom.legacy_code", "no custom field"),
        (None, "custom", "must be an object of field key to value, not null"),
    ],
)
def test_a_custom_value_the_pipeline_does_not_allow_is_a_422_naming_the_field(
    api, deal, custom, field, says
):
    response = patch(api, deal, {"version": 1, "custom": custom})

    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid", field)
    assert body["message"].startswith(f"{field}: ") and says in body["message"]
    deal.refresh_from_db()
    assert deal.version == 1
    assert deal.custom == {"need": "A firewall", "legacy_code": "HX-7"}


def test_the_tester_s_body_is_refused_at_its_first_bad_field(api, deal):
    body = (
        '{"version": 1, "custom": {"budget": "lots", "engagement": "Bribery", '
        '"call_date": "yesterday", "bogus_key": {}}}'
    )

    response = patch(api, deal, body)

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "custom.budget: 'lots' is not a number; write it like 1250 or 12.50",
        "field": "custom.budget",
    }


def test_a_number_json_cannot_hold_is_refused_not_stored(api, deal):
    # Python's JSON reader takes NaN, which PostgreSQL's jsonb cannot store.
    response = patch(api, deal, '{"version": 1, "custom": {"budget": NaN}}')

    assert response.status_code == 422
    assert response.json()["field"] == "custom.budget"


def test_a_value_stored_before_the_pipeline_changed_may_be_sent_back_or_removed(
    api, deal
):
    custom = {"need": "A firewall", "legacy_code": "HX-7", "budget": 10}
    assert patch(api, deal, {"version": 1, "custom": custom}).status_code == 200

    removed = {"need": None, "legacy_code": None}
    assert patch(api, deal, {"version": 2, "custom": removed}).status_code == 200

    deal.refresh_from_db()
    assert deal.custom == {"budget": 10}


def test_only_the_custom_values_sent_are_checked(api, deal):
    # A value stored before custom values were checked (text in a number
    # field) does not block an edit of another field.
    Deal.objects.filter(pk=deal.pk).update(custom={"budget": "2"})

    response = patch(api, deal, {"version": 1, "custom": {"engagement": "Retainer"}})

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.custom == {"budget": "2", "engagement": "Retainer"}


def test_a_deal_saved_through_the_api_opens_in_the_edit_form(api, deal):
    custom = {"budget": 2.5, "call_date": "2026-07-01", "decision_maker_seen": False}
    assert patch(api, deal, {"version": 1, "custom": custom}).status_code == 200

    response = api.post(
        reverse("deal-edit", args=[deal.pk]),
        {
            "version": 2,
            "title": "Firewall refresh",
            "custom:budget": "2.5",
            "custom:call_date": "2026-07-01",
            "custom:decision_maker_seen": "no",
        },
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.version, deal.custom["budget"]) == (3, 2.5)


def test_a_choice_in_another_case_is_stored_in_the_pipelines_spelling(api, deal):
    """As the import and the deal page read it: rules compare with the
    pipeline's spelling."""
    response = patch(api, deal, {"version": 1, "custom": {"engagement": " retainer"}})

    assert response.status_code == 200, response.content
    deal.refresh_from_db()
    assert deal.custom["engagement"] == "Retainer"
