"""A service's refusal on a form reads once, after the input's label, with no
field key in it ("Organization: ... holds no visible characters"), while the
API and the command line keep the message that names the field key."""

import pytest
from django import forms
from django.urls import reverse

from dealgate.builder.forms import add_error
from dealgate.deals.models import Deal
from dealgate.errors import ValidationError
from tests.conftest import PASSWORD

from .helpers import make_deal, text_of

NEW = reverse("deal-new")


@pytest.mark.parametrize(
    ("message", "field", "detail"),
    [
        (
            "organization: holds no visible characters (U+200B)",
            "organization",
            "holds no visible characters (U+200B)",
        ),
        (
            "expected_close_date must lie between 1901 and 2198, not in 1850",
            "expected_close_date",
            "must lie between 1901 and 2198, not in 1850",
        ),
        ("custom.seats: must be a number", "custom.seats", "must be a number"),
        ("a deal needs a title", "title", "a deal needs a title"),
        ("title", "title", "title"),
        ("stage key is a slug", "key", "stage key is a slug"),
        ("value: 3", None, "value: 3"),
    ],
)
def test_the_detail_of_an_error_is_its_message_without_the_field_key_in_front(
    message, field, detail
):
    error = ValidationError(message, field=field)
    assert error.detail == detail
    assert error.message == message


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_new_deal_form_says_an_invisible_organization_once(signed_in, pipeline):
    response = signed_in.post(
        f"{NEW}?pipeline=new-business",
        {"title": "Backup", "organization": "\u200b", "owner": "alice"},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "Organization: holds no visible characters (U+200B)" in text
    assert "organization:" not in text
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("posted", "shown", "hidden"),
    [
        (
            {"expected_close_date": "1850-01-01"},
            "Expected close date: must lie between 1901 and 2198, not in 1850",
            "expected_close_date",
        ),
        (
            {"organization": "\u2060"},
            "Organization: holds no visible characters (U+2060)",
            "organization:",
        ),
        ({"owner": "nobody"}, "Owner: there is no active user 'nobody'", "owner:"),
    ],
)
def test_the_edit_form_says_each_refusal_once_after_its_label(
    signed_in, pipeline, alice, now, posted, shown, hidden
):
    deal = make_deal(pipeline, "inquiry", title="Helpdesk", owner=alice)

    response = signed_in.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, **posted},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert shown in text
    assert hidden not in text


def test_the_edit_form_shows_a_custom_fields_refusal_at_its_own_input(
    signed_in, pipeline, alice, now, monkeypatch
):
    pipeline.custom_fields = [{"key": "seats", "label": "Seats", "type": "number"}]
    pipeline.save()
    deal = make_deal(pipeline, "inquiry", title="Helpdesk", owner=alice)

    def refuse(*args, **kwargs):
        raise ValidationError("custom.seats: too many seats", field="custom.seats")

    monkeypatch.setattr("dealgate.deals.services.update_deal", refuse)
    response = signed_in.post(
        reverse("deal-edit", args=[deal.pk]),
        {"version": deal.version, "title": deal.title, "custom:seats": "9"},
    )

    assert response.status_code == 422
    assert (
        '<p class="field-error" role="alert">Seats: too many seats</p>'
        in response.content.decode()
    )


def test_the_activity_form_says_a_refusal_once_after_its_label(
    signed_in, pipeline, alice, now
):
    deal = make_deal(pipeline, "inquiry", title="Helpdesk", owner=alice)

    response = signed_in.post(
        reverse("deal-activity", args=[deal.pk]),
        {"kind": "call", "subject": "x", "tag": "two words"},
    )

    assert response.status_code == 422
    text = text_of(response)
    assert "Tag: must be one word of letters" in text
    assert "tag must be" not in text


def test_the_api_keeps_the_message_that_names_the_field_key(client, pipeline, alice):
    client.login(username="alice", password=PASSWORD)

    response = client.post(
        "/api/v1/deals",
        {
            "pipeline": "new-business",
            "title": "Backup",
            "expected_close_date": "1850-01-01",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "expected_close_date"
    assert body["message"].startswith("expected_close_date must lie between 1901")


class _StageForm(forms.Form):
    age_limit_days = forms.IntegerField(label="Age limit")


def test_the_builder_shows_a_refusal_at_its_field_without_the_key():
    form = _StageForm(data={"age_limit_days": "3"})
    form.is_valid()

    add_error(
        form,
        ValidationError(
            "age_limit_days must be 1 to 260 business days", field="age_limit_days"
        ),
    )
    add_error(form, ValidationError("the draft changed", field="seen"))

    assert form.errors["age_limit_days"] == ["must be 1 to 260 business days"]
    assert form.non_field_errors() == ["the draft changed"]
