"""What a form's text is read as: line breaks counted as the browser counts
them, internationalised email addresses, and a country as its ISO code."""

from __future__ import annotations

import pytest

from dealgate.core.countries import country_code
from dealgate.errors import ValidationError
from dealgate.leads.intake import clean_lead
from dealgate.leads.models import Lead
from dealgate.leads.normalize import email_key, line_breaks
from tests.web.helpers import text_of

from .conftest import inquiry

FORM = "/leads/form/new-business/"


def test_a_message_the_textarea_let_through_is_taken_with_plain_line_breaks(
    client, routed, now
):
    # 4,991 characters and 9 line breaks: 5,000 to the browser, 5,009 as sent.
    message = "\r\n".join(["x" * 500] + ["y" * 499] * 9)
    assert len(message.replace("\r\n", "\n")) == 5000

    response = client.post(FORM, inquiry(message=message))

    assert response.status_code == 200
    assert Lead.objects.get().message == message.replace("\r\n", "\n")


def test_a_message_past_the_limit_is_still_refused_naming_its_length(
    client, routed, now
):
    response = client.post(FORM, inquiry(message="x\r\n" * 2501))

    assert response.status_code == 422
    assert "the limit is 5,000" in text_of(response)
    assert "5,001 characters long" in text_of(response)


def test_the_new_lead_page_reads_line_breaks_as_the_form_does(
    client, routed, olivia, now
):
    client.force_login(olivia)

    client.post("/leads/new/", inquiry(message="line one\r\nline two\rline three"))

    assert Lead.objects.get().message == "line one\nline two\nline three"


def test_line_breaks_of_every_kind_become_one_newline():
    assert line_breaks("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert line_breaks("no breaks") == "no breaks"


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("jörg@ümlaut.de", "jörg@xn--mlaut-jva.de"),
        ("zoe@ünïcode.de", "zoe@xn--ncode-cta3g.de"),
        ("JÖRG@Example.de", "jörg@example.de"),
        # "o" and a combining diaeresis: the same key as "ö" typed whole.
        ("jo\u0308rg@example.de", "jörg@example.de"),
        ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_internationalised_addresses_are_taken(typed, key):
    assert email_key(typed) == key


@pytest.mark.parametrize(
    "typed",
    [
        "jö rg@example.de",
        "jörg€@example.de",
        "j\u200börg@example.de",
        "ö" * 33 + "@example.de",  # 66 bytes: a local part holds 64
        "jörg@@example.de",
    ],
)
def test_an_address_with_a_symbol_space_invisible_or_too_long_a_local_part_is_not(
    typed,
):
    with pytest.raises(ValueError, match="is not an email address"):
        email_key(typed)


def test_the_form_takes_an_umlaut_before_the_at_sign(client, routed, now):
    page = client.get(FORM).content.decode()

    response = client.post(FORM, inquiry(email="jörg@ümlaut.de"))

    assert response.status_code == 200
    assert Lead.objects.get().email_key == "jörg@xn--mlaut-jva.de"
    # A browser's own check of type="email" would refuse it before sending.
    assert 'type="email"' not in page and 'inputmode="email"' in page


@pytest.mark.parametrize(("typed", "code"), [("de", "DE"), (" at ", "AT"), ("", "")])
def test_a_country_code_is_taken_in_any_case(typed, code):
    assert country_code(typed) == code


@pytest.mark.parametrize("typed", ["Germany", "DEU", "XX", "D"])
def test_a_country_name_or_unknown_code_asks_for_the_two_letter_code(typed):
    with pytest.raises(ValidationError) as refused:
        clean_lead({"email": "a@initech.example", "country": typed}, region="DE")

    assert refused.value.field == "country"
    assert refused.value.message == (
        f"country must be a two-letter ISO 3166 code such as DE or US, not {typed!r}"
    )


def test_the_form_says_what_country_it_wants(client, routed, now):
    response = client.post(FORM, inquiry(country="Germany"))

    assert response.status_code == 422
    assert "Country: must be a two-letter ISO 3166 code such as DE or US, not " in (
        text_of(response)
    )
    assert "7 characters long" not in text_of(response)
