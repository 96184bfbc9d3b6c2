"""The embeddable web form: no JavaScript, a honeypot, a rate limit per address."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate import timesource
from dealgate.leads.models import FormHit, Lead

from .conftest import inquiry

URL = "/leads/form/new-business/"


def test_the_form_is_plain_html_that_other_sites_may_frame(client, routed):
    response = client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert "<script" not in page.split("<main>")[1]
    assert 'name="fax_number"' in page and 'method="post"' in page
    assert "X-Frame-Options" not in response.headers


def test_a_submission_is_captured_and_thanked(client, routed, now):
    response = client.post(URL, inquiry())

    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.channel, lead.source, lead.owner.username) == ("form", "form", "alice")


def test_a_visitor_cannot_choose_the_source_routing_rules_test(client, routed, now):
    routed.settings = {
        "routing": [
            {"name": "partners", "when": {"source": "partner"}, "to": "user:bob"},
            {"name": "rest", "to": "user:alice", "fallback": True},
        ]
    }
    routed.save()

    client.post(URL, {**inquiry(), "source": "partner"})

    lead = Lead.objects.get()
    assert (lead.source, lead.rule, lead.owner.username) == ("form", "rest", "alice")


def test_a_configured_thank_you_address_is_a_redirect(client, routed, now):
    routed.settings = {
        **routed.settings,
        "lead_form": {"thanks_url": "https://acme.example/thanks"},
    }
    routed.save()

    response = client.post(URL, inquiry())

    assert response.status_code == 303
    assert response["Location"] == "https://acme.example/thanks"


def test_a_filled_honeypot_is_thanked_and_dropped(client, routed, now):
    response = client.post(URL, inquiry(fax_number="http://spam.example"))

    assert response.status_code == 200 and "Thank you" in response.content.decode()
    assert not Lead.objects.exists()


def test_bad_input_shows_the_form_again_naming_the_field_escaped(client, routed, now):
    response = client.post(URL, inquiry(email="<b>nope</b>"))

    page = response.content.decode()
    assert response.status_code == 422
    assert "Email: " in page
    assert "&lt;b&gt;nope&lt;/b&gt;" in page and "<b>nope</b>" not in page
    assert not Lead.objects.exists()


def test_the_rate_limit_counts_per_address_and_window(client, routed, settings):
    settings.LEADS_FORM_RATE_LIMIT = 2
    settings.LEADS_FORM_RATE_WINDOW = 600
    t0 = dt.datetime(2026, 6, 10, 12, 0, 5, tzinfo=dt.UTC)
    with timesource.frozen_at(t0):
        codes = [client.post(URL, inquiry(n)).status_code for n in range(3)]
        other = client.post(URL, inquiry(9), REMOTE_ADDR="10.0.0.9").status_code
    with timesource.frozen_at(t0 + dt.timedelta(minutes=10)):
        later = client.post(URL, inquiry(4)).status_code

    assert codes == [200, 200, 429]
    assert (other, later) == (200, 200)
    assert Lead.objects.count() == 4
    assert "127.0.0.1" not in str(
        list(FormHit.objects.values_list("client", flat=True))
    )


@pytest.mark.parametrize("path", ["/leads/form/nope/"])
def test_an_unknown_pipeline_is_404(client, routed, path):
    assert client.get(path).status_code == 404


def test_under_a_demos_fixed_as_of_date_the_rate_limit_counts_real_time(
    client, routed, settings
):
    settings.AS_OF = "2017-12-31"  # as `make demo` runs, with no pinned clock
    settings.LEADS_FORM_RATE_LIMIT = 1
    settings.LEADS_FORM_RATE_WINDOW = 600

    assert client.post(URL, inquiry(1)).status_code == 200

    # The window is of real time, not of the as-of date that never moves.
    (hit,) = FormHit.objects.all()
    assert hit.window_start.year == timesource.wall_now().year != 2017


def test_refused_submissions_do_not_use_up_the_rate_limit(client, routed, settings):
    settings.LEADS_FORM_RATE_LIMIT = 5
    settings.LEADS_FORM_RATE_WINDOW = 600
    t0 = dt.datetime(2026, 6, 10, 12, 0, 5, tzinfo=dt.UTC)
    with timesource.frozen_at(t0):
        refused = [
            client.post(URL, inquiry(n, email="anna@@example")).status_code
            for n in range(5)
        ]
        taken = [client.post(URL, inquiry(n)).status_code for n in range(6)]

    assert refused == [422] * 5
    # Five accepted, then the limit: it counts what was received.
    assert taken == [200] * 5 + [429]
    assert Lead.objects.count() == 5


def test_behind_a_proxy_the_rate_limit_counts_an_address_however_written(
    client, routed, settings, now
):
    settings.LEADS_FORM_RATE_LIMIT = 3
    settings.CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    written = ["10.3.3.3", "10.3.3.3:5555", "::ffff:10.3.3.3", "6.6.6.6, 10.3.3.3"]

    codes = [
        client.post(URL, inquiry(n), HTTP_X_FORWARDED_FOR=sent).status_code
        for n, sent in enumerate(written)
    ]

    assert codes == [200, 200, 200, 429]


def test_a_form_too_large_is_told_its_limit_and_nothing_is_captured(
    client, routed, now, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024
    response = client.post(URL, {**inquiry(), "message": "x" * 20_000})

    assert response.status_code == 413
    assert "larger than the 10 KB this site takes" in response.content.decode()
    assert not Lead.objects.exists()


def test_a_form_with_too_many_fields_is_told_its_limit(client, routed, now, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    fields = {**inquiry(), **{f"extra{n}": "x" for n in range(60)}}
    response = client.post(URL, fields)

    assert response.status_code == 400
    assert "more than the 50 fields this site takes" in response.content.decode()
    assert not Lead.objects.exists()


def test_a_refused_field_is_named_once_by_its_label(client, routed, now):
    response = client.post(URL, {**inquiry(), "email": "not an address"})

    page = response.content.decode()
    assert response.status_code == 422
    assert '<p class="error" role="alert">Email: ' in page
    assert "email: email" not in page.lower()


def test_a_firms_own_form_may_post_segment_size_and_value(client, routed, now):
    fields = {**inquiry(), "segment": "Retail", "company_size": "1,200"}
    response = client.post(URL, {**fields, "value": "8,000", "utm_source": "ad"})

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.segment, lead.company_size, lead.value) == ("Retail", 1200, 8000)


def test_a_posted_value_that_does_not_read_is_refused_naming_it(client, routed, now):
    response = client.post(URL, {**inquiry(), "value": "12,50"})

    assert response.status_code == 422
    assert "Value: &#x27;12,50&#x27; is not a number" in response.content.decode()
    assert not Lead.objects.exists()


def test_the_rate_limit_slides_so_no_burst_passes_across_a_slot_boundary(
    client, routed, settings
):
    # 5 per 600 s: five just before 12:10 and five just after were all let
    # through when the limit counted in fixed 10-minute slots.
    settings.LEADS_FORM_RATE_LIMIT = 5
    settings.LEADS_FORM_RATE_WINDOW = 600
    boundary = dt.datetime(2026, 6, 10, 12, 10, tzinfo=dt.UTC)
    codes = []
    for n in range(10):
        at = boundary + dt.timedelta(seconds=n - 5)
        with timesource.frozen_at(at):
            codes.append(client.post(URL, inquiry(n)).status_code)

    assert codes == [200] * 5 + [429] * 5
    assert Lead.objects.count() == 5
    # The first leaves the window 600 s after it was posted, not before.
    with timesource.frozen_at(boundary + dt.timedelta(seconds=594)):
        refused = client.post(URL, inquiry(20))
    with timesource.frozen_at(boundary + dt.timedelta(seconds=595, microseconds=1)):
        again = client.post(URL, inquiry(21)).status_code
    assert refused.status_code == 429
    assert "try again in 1 minute." in refused.content.decode()
    assert again == 200


def test_the_limited_page_says_when_the_oldest_submission_leaves_the_window(
    client, routed, settings
):
    settings.LEADS_FORM_RATE_LIMIT = 2
    settings.LEADS_FORM_RATE_WINDOW = 600
    t0 = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
    for n, minute in enumerate((0, 2)):
        with timesource.frozen_at(t0 + dt.timedelta(minutes=minute)):
            client.post(URL, inquiry(n))

    with timesource.frozen_at(t0 + dt.timedelta(minutes=3)):
        page = client.post(URL, inquiry(9)).content.decode()

    assert "Please try again in 7 minutes." in page
