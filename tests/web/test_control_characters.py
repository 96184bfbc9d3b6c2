"""A NUL anywhere a request carries values, or another control character
where no value can hold one (an address, a name, a query parameter), is
refused at the edge naming the parameter or field, the same on SQLite and
PostgreSQL: PostgreSQL used to fail with a 500 ("cannot contain NUL") where
SQLite answered 404 or 422."""

from __future__ import annotations

import pytest

from dealgate.core.controls import IN_NAME, NUL, control_in
from dealgate.deals.models import Deal
from dealgate.leads.models import Lead
from tests.conftest import PASSWORD
from tests.web.helpers import make_deal


@pytest.fixture
def signed_in(client, olivia, pipeline):
    client.login(username="olivia", password=PASSWORD)
    return client


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/?owner=%00", "owner"),
        ("/board/column/?stage=inquiry&owner=a%00b", "owner"),
        ("/board/column/?stage=%00", "stage"),
        ("/leads/?pipeline=%00", "pipeline"),
        ("/leads/?owner=%00", "owner"),
        ("/leads/report/?pipeline=%00", "pipeline"),
        ("/insights/?pipeline=%00", "pipeline"),
        ("/insights/?segment=%00", "segment"),
        ("/insights/?source=%00", "source"),
        ("/insights/?owner=%00", "owner"),
        ("/insights/?team=%00", "team"),
        ("/insights/?product=%00", "product"),
        ("/insights/bottlenecks/?pipeline=x%00", "pipeline"),
        ("/insights/bottlenecks/?product=%00", "product"),
        ("/insights/review/?pipeline=%00", "pipeline"),
        ("/insights/?pipeline=new-business&segment=%1b", "segment"),
    ],
)
def test_a_control_character_in_a_query_parameter_is_a_400_naming_it(
    signed_in, url, parameter
):
    response = signed_in.get(url)

    assert response.status_code == 400
    text = response.content.decode()
    assert f"the query parameter {parameter} holds a control character" in text


def test_a_control_character_in_a_parameter_name_is_refused(signed_in):
    response = signed_in.get("/insights/?own%00er=alice")

    assert response.status_code == 400
    assert "a query parameter name holds a control character (U+0000)" in (
        response.content.decode()
    )


def test_a_control_character_in_the_address_is_refused(signed_in):
    response = signed_in.get("/pipelines/new%00business/")

    assert response.status_code == 400
    assert "the address holds a control character" in response.content.decode()


def test_a_nul_in_a_form_field_is_refused_and_the_deal_is_unchanged(
    signed_in, pipeline, olivia
):
    deal = make_deal(pipeline, "discovery", owner=olivia, title="Backup")

    response = signed_in.post(
        f"/deals/{deal.pk}/edit/",
        {"title": "Backup\x00", "version": deal.version},
    )

    assert response.status_code == 400
    assert "the form field title holds a control character (U+0000)" in (
        response.content.decode()
    )
    assert Deal.objects.get(pk=deal.pk).title == "Backup"


def test_line_breaks_and_tabs_in_query_and_form_values_pass(signed_in):
    assert signed_in.get("/insights/?segment=a%0D%0Ab%09c").status_code == 200


def test_the_api_answers_a_control_character_in_its_query_in_its_error_family(
    client, olivia, pipeline
):
    client.login(username="olivia", password=PASSWORD)

    response = client.get("/api/v1/deals?owner=%00")

    assert response.status_code == 422
    assert response.json()["field"] == "owner"
    assert response.json()["code"] == "invalid"


def _send(client, method, url, body):
    send = getattr(client, method)
    return send(url, body, content_type="application/json")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"pipeline": "it-\u0000", "title": "A"}, "pipeline"),
        ({"pipeline": "new-business", "title": "A", "owner": "a\u0000b"}, "owner"),
        ({"pipeline": "new-business", "title": "A", "notes": "x\u0000"}, "notes"),
        (
            {"pipeline": "new-business", "title": "A", "custom": {"k": "\u0000"}},
            "custom.k",
        ),
    ],
)
def test_a_control_character_in_a_json_body_is_a_422_naming_the_field(
    client, olivia, pipeline, body, field
):
    client.login(username="olivia", password=PASSWORD)

    response = _send(client, "post", "/api/v1/deals", body)

    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert "holds a NUL character (U+0000)" in response.json()["message"]
    assert not Deal.objects.exists()


def test_a_control_character_in_a_json_key_is_refused(client, olivia, pipeline):
    client.login(username="olivia", password=PASSWORD)
    body = {"pipeline": "new-business", "title": "A", "custom": {"k\u0000": "v"}}

    response = _send(client, "post", "/api/v1/deals", body)

    assert response.status_code == 422
    assert response.json()["message"].startswith(
        "a key in custom holds a NUL character (U+0000)"
    )


def test_a_nul_in_a_patch_is_refused_and_the_deal_is_unchanged(
    client, olivia, pipeline
):
    client.login(username="olivia", password=PASSWORD)
    deal = make_deal(pipeline, "discovery", owner=olivia)

    body = {"owner": "a\u0000b", "version": deal.version}
    response = _send(client, "patch", f"/api/v1/deals/{deal.pk}", body)

    assert response.status_code == 422
    assert response.json()["field"] == "owner"
    assert Deal.objects.get(pk=deal.pk).owner == olivia


def test_a_nul_in_a_lead_posted_to_the_api_is_refused(client, olivia, pipeline):
    client.login(username="olivia", password=PASSWORD)

    body = {"pipeline": "\u0000", "email": "a@example.com"}
    response = _send(client, "post", "/api/v1/leads", body)

    assert response.status_code == 422
    assert response.json()["field"] == "pipeline"
    assert not Lead.objects.exists()


def test_text_may_hold_line_breaks_and_tabs_a_name_no_control():
    assert control_in("line one\r\nline\ttwo") is None
    assert control_in("bell\x07") == "U+0007"
    assert control_in("a\nb", IN_NAME) == "U+000A"
    assert control_in("bell\x07", NUL) is None


def test_other_controls_in_a_form_field_are_left_to_its_own_rule(
    signed_in, pipeline, olivia
):
    deal = make_deal(pipeline, "discovery", owner=olivia, title="Backup")

    response = signed_in.post(
        f"/deals/{deal.pk}/edit/",
        {"title": "Back\x07up", "version": deal.version},
    )

    # Shown at the title's input, with the rest of the form as typed.
    assert response.status_code == 422
    assert "Title: must be one line" in response.content.decode()


def test_a_json_text_may_hold_other_controls_for_its_field_to_judge(
    client, olivia, pipeline
):
    client.login(username="olivia", password=PASSWORD)
    body = {"pipeline": "new-business", "title": "A", "notes": "a\tb\x07"}

    response = _send(client, "post", "/api/v1/deals", body)

    assert response.status_code == 422
    assert response.json()["field"] == "notes"
    assert "NUL" not in response.json()["message"]


@pytest.mark.parametrize("encoded", [False, True], ids=["multipart", "urlencoded"])
def test_a_form_body_sent_to_the_api_is_still_refused_as_not_json(
    client, olivia, pipeline, encoded
):
    client.login(username="olivia", password=PASSWORD)
    if encoded:
        body, kind = (
            "pipeline=new-business&title=x%00",
            "application/x-www-form-urlencoded",
        )
        response = client.post("/api/v1/deals", body, content_type=kind)
    else:
        response = client.post("/api/v1/deals", {"pipeline": "new-business"})

    assert response.status_code == 422
    assert response.json()["message"] == "the body is not JSON"
