"""Capturing a lead: checks naming the field, normalised keys, routing."""

from __future__ import annotations

import pytest

from dealgate.errors import ValidationError
from dealgate.leads.models import Lead, LeadAssignment
from dealgate.leads.services import capture_lead
from dealgate.pipelines.models import Handoff

from .conftest import inquiry


def test_a_new_lead_is_routed_and_its_window_starts(routed, alice, now):
    result = capture_lead(inquiry(), source="api")

    lead = result.lead
    assert result.created
    assert lead.owner == alice
    assert lead.status == Lead.Status.ASSIGNED
    assert lead.rule == "DACH"
    assert 'rule "DACH" (routing[0])' in lead.routing_reason
    assert "country DE is one of DE, AT, CH" in lead.routing_reason
    assert lead.assigned_at == now
    assert lead.response_due_at is not None
    assert LeadAssignment.objects.get(lead=lead).rule == "DACH"


def test_keys_are_normalised(routed, now):
    lead = capture_lead(
        inquiry(
            email="  Anna.Schmidt@ACME.de ",
            phone="030 1234567",
            website="https://www.Acme.de/kontakt?x=1",
            company="ACME G.m.b.H.",
        ),
        source="form",
    ).lead

    assert lead.email == "Anna.Schmidt@ACME.de"
    assert lead.email_key == "anna.schmidt@acme.de"
    assert lead.phone_e164 == "+49301234567"
    assert lead.domain == "acme.de"
    assert lead.company_key == "acme"


def test_keys_that_fold_longer_than_typed_still_fit_their_columns(routed, now):
    # "ß" folds to "ss", so 200 of them make a 400-character key; a domain
    # of 235 characters is a valid one, longer than the domain column.
    long_domain = ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 50, "de"])
    lead = capture_lead(
        inquiry(company="ß" * 200, email=f"anna@{long_domain}"), source="api"
    ).lead

    stored = Lead.objects.get(pk=lead.pk)
    assert stored.company_key == "ss" * 100
    assert stored.domain == long_domain[:200]
    assert stored.email_key == f"anna@{long_domain}"


@pytest.mark.parametrize(
    ("country", "phone", "e164"),
    [
        ("US", "(212) 555-0123", "+12125550123"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("DE", "030 1234567", "+49301234567"),
        (None, "030 1234567", "+49301234567"),  # the pipeline's country
        ("US", "+49 30 1234567", "+49301234567"),  # its own code wins
    ],
)
def test_a_number_without_its_country_code_is_read_in_the_leads_country(
    routed, now, country, phone, e164
):
    lead = capture_lead(
        inquiry(email=None, phone=phone, country=country), source="api"
    ).lead

    assert lead.phone_e164 == e164


def test_a_phone_number_that_does_not_read_says_where_it_was_read(routed, now):
    with pytest.raises(ValidationError, match=r"read as a number in US") as refused:
        capture_lead(inquiry(phone="030 12", country="US"), source="api")

    assert refused.value.field == "phone"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": None, "phone": None}, "email"),
        ({"email": "not an email"}, "email"),
        ({"email": None, "phone": "12"}, "phone"),
        ({"website": "http://"}, "website"),
        ({"country": "Germany"}, "country"),
        ({"company_size": "lots"}, "company_size"),
        ({"value": "-5"}, "value"),
        ({"currency": "XYZ"}, "currency"),
        ({"message": "x" * 5001}, "message"),
        ({"name": "a\x00b"}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field(routed, now, fields, field):
    with pytest.raises(ValidationError) as refused:
        capture_lead(inquiry(**fields), source="api")

    assert refused.value.field == field
    assert refused.value.status == 422
    assert not Lead.objects.exists()


def test_a_currency_typed_in_lower_case_is_stored_as_its_iso_code(routed, now):
    lead = capture_lead(inquiry(value="500", currency="eur"), source="api").lead
    assert lead.currency == "EUR"


def test_markup_is_stored_as_text(routed, now):
    lead = capture_lead(
        inquiry(name="<script>alert(1)</script>", company="<b>Bold</b> Ltd"),
        source="api",
    ).lead

    lead.refresh_from_db()
    assert lead.name == "<script>alert(1)</script>"
    assert lead.company == "<b>Bold</b> Ltd"


def test_the_source_field_defaults_to_the_door(routed, now):
    assert capture_lead(inquiry(1), source="form").lead.source == "form"
    given = capture_lead(inquiry(2, source="partner"), source="form").lead
    assert (given.source, given.channel) == ("partner", "form")


def test_a_known_external_id_finds_the_first_lead(routed, now):
    first = capture_lead(inquiry(1, external_id="crm-7"), source="api")
    again = capture_lead(inquiry(1, external_id="crm-7"), source="api")

    assert not again.created
    assert again.lead == first.lead
    assert Lead.objects.count() == 1


def test_a_new_lead_is_captured_without_looking_for_clocks_it_cannot_have(
    routed, now, django_assert_max_num_queries
):
    first_stage = routed.stages.order_by("position").first()
    intake = Handoff.objects.create(
        pipeline=routed,
        from_stage=None,
        to_stage=first_stage,
        response_window_minutes=5,
    )
    capture_lead(inquiry(1), source="api")  # warms the per-process caches

    with django_assert_max_num_queries(12) as captured:
        result = capture_lead(inquiry(2, company="Beta Works"), source="api")

    assert result.created
    sql = "\n".join(q["sql"] for q in captured.captured_queries)
    assert 'SELECT "clocks_clock"."id"' not in sql  # only the INSERT of its window
    assert 'SELECT "pipelines_handoff"."id"' not in sql  # read with the pipeline
    assert result.lead.clocks.get().handoff_id == intake.pk
