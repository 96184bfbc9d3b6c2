"""A form sent in another encoding than UTF-8 is refused, not stored garbled.

A site whose own page is ISO-8859-1 and posts the documented field names to
the form sends "Jörg" as the byte 0xF6. Read as UTF-8 that is no text: the
lead must not be kept with U+FFFD in place of the letters, its company key
and its buyer's name lost, while the visitor is thanked.
"""

from __future__ import annotations

from dealgate.leads.models import FormHit, Lead
from tests.web.helpers import text_of

FORM = "/leads/form/new-business/"


def test_a_form_posted_in_latin_1_is_refused_naming_the_field(client, routed, now):
    body = b"email=joerg%40example.de&name=J%F6rg&company=M%FCller+GmbH"

    response = client.post(
        FORM, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert not Lead.objects.filter(name__contains="\ufffd").exists()
    assert response.status_code in (400, 422)
    assert "Name" in text_of(response)


def test_the_form_says_which_fields_and_that_it_must_be_utf_8(client, routed, now):
    body = b"email=joerg%40example.de&name=J%F6rg&company=M%FCller+GmbH"

    response = client.post(
        FORM, data=body, content_type="application/x-www-form-urlencoded"
    )

    text = text_of(response)
    assert response.status_code == 422
    assert "Name, Company did not arrive as UTF-8 text" in text
    assert not Lead.objects.exists()
    assert not FormHit.objects.exists()


def test_a_form_declaring_latin_1_is_refused_saying_it_must_be_utf_8(
    client, routed, now
):
    # The HTML standard reads a URL-encoded form as UTF-8 whatever it
    # declares; Django refused it with a bare 400, saying nothing of why.
    body = b"email=joerg%40example.de&name=J%F6rg"

    response = client.post(
        FORM,
        data=body,
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )

    assert response.status_code == 422
    assert "UTF-8" in text_of(response)
    assert not Lead.objects.exists()


def test_a_replacement_character_typed_in_utf_8_is_taken(client, routed, now):
    body = b"email=joerg%40example.de&name=J%EF%BF%BDrg&country=DE"

    response = client.post(
        FORM, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert Lead.objects.get().name == "J\ufffdrg"


def test_the_shipped_form_asks_the_browser_for_utf_8(client, routed):
    assert 'accept-charset="utf-8"' in client.get(FORM).content.decode()


def test_an_app_page_posted_in_latin_1_is_refused_naming_the_field(
    client, routed, olivia, now
):
    client.force_login(olivia)
    body = b"pipeline=new-business&email=a%40b.de&company=M%FCller"

    response = client.post(
        "/leads/new/", data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 422
    assert "the field company did not arrive as UTF-8 text" in text_of(response)
    assert not Lead.objects.exists()


def test_a_multipart_form_read_lossily_is_refused(client, routed, now):
    boundary = "XyZ"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="email"\r\n\r\n'
            f"joerg@example.de\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="name"\r\n\r\n'
        ).encode()
        + b"J\xf6rg\r\n"
        + f"--{boundary}--\r\n".encode()
    )

    response = client.post(
        FORM, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == 422
    assert "Name did not arrive as UTF-8 text" in text_of(response)
    assert not Lead.objects.exists()


def test_the_api_refuses_json_that_is_not_utf_8(client, routed, olivia, now):
    from dealgate.leads.tokens import create_token

    secret = create_token(olivia, "crm", scope="leads")[1]

    response = client.post(
        "/api/v1/leads",
        data=b'{"email": "joerg@example.de", "name": "J\xf6rg"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 422
    assert response.json()["message"].startswith("the body is not UTF-8 text")
    assert not Lead.objects.exists()
