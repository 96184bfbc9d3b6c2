"""A form sent in another encoding than UTF-8 is refused, not stored garbled.

A site whose own page is ISO-8859-1 and posts the documented field names to
the form sends "Jörg" as the byte 0xF6. Read as UTF-8 that is no text: the
lead must not be kept with U+FFFD in place of the letters, its company key
and its buyer's name lost, while the visitor is thanked.
"""

from __future__ import annotations

from dealgate.leads.models import Lead
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
