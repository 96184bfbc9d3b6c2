"""A deal created by hand is created once: a request sent twice (a double
click, a client's retry) makes one deal, at the service, through the API's
Idempotency-Key header and through the New deal form's one-time token."""

import datetime as dt
import logging
import re
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from dealgate import timesource
from dealgate.deals.idempotency import (
    KEY_LIFETIME,
    KeyReused,
    create_deal_once,
    fingerprint,
)
from dealgate.deals.models import Deal, IdempotencyKey
from dealgate.deals.services import MoveRefused, move_deal
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
API, WEB = IdempotencyKey.Door.API, IdempotencyKey.Door.WEB
NEW = reverse("deal-new")


@pytest.fixture(autouse=True)
def frozen():
    with timesource.frozen_at(T0):
        yield


def once(pipeline, user, fields, *, key="k-1", door=API, **options):
    return create_deal_once(
        pipeline,
        fields,
        by=user,
        door=door,
        key=key,
        request=fingerprint(fields),
        field="Idempotency-Key",
        **options,
    )


# --- the service -------------------------------------------------------------


def test_a_request_sent_again_gets_the_first_deal_and_writes_nothing(
    pipeline, alice, caplog
):
    first = once(pipeline, alice, {"title": "Backup"}, answer=lambda d: {"id": d.pk})

    with caplog.at_level(logging.INFO, logger="dealgate.deals"):
        again = once(pipeline, alice, {"title": "Backup"})

    assert (first.replayed, again.replayed) == (False, True)
    assert again.deal == first.deal and again.answer == {"id": first.deal.pk}
    assert Deal.objects.count() == 1 and IdempotencyKey.objects.count() == 1
    assert (
        f"deal {first.deal.pk}: the same API request sent again by alice made "
        "nothing new" in caplog.text
    )


def test_a_key_sent_with_another_request_is_refused_naming_the_key(pipeline, alice):
    first = once(pipeline, alice, {"title": "Backup"})

    with pytest.raises(KeyReused) as refused:
        once(pipeline, alice, {"title": "Backup for Contoso"})

    assert refused.value.field == "Idempotency-Key"
    assert refused.value.deal_id == first.deal.pk
    assert f"made deal {first.deal.pk}" in refused.value.message
    assert Deal.objects.count() == 1


def test_keys_are_each_persons_own_and_each_doors_own(pipeline, alice, bob):
    mine = once(pipeline, alice, {"title": "Backup"})
    theirs = once(pipeline, bob, {"title": "Backup"})
    from_the_page = once(pipeline, alice, {"title": "Backup"}, door=WEB)

    assert len({mine.deal.pk, theirs.deal.pk, from_the_page.deal.pk}) == 3
    assert not any(c.replayed for c in (mine, theirs, from_the_page))


def test_a_refused_creation_keeps_no_key_and_may_be_sent_again(pipeline, alice):
    first = pipeline.stages.get(key="inquiry")
    first.entry_criteria = [
        {"label": "Buyer's company known", "rule": "deal.organization != null"}
    ]
    first.save()

    with pytest.raises(MoveRefused):
        once(pipeline, alice, {"title": "Backup"})
    assert not IdempotencyKey.objects.exists()

    first.entry_criteria = []
    first.save()
    created = once(pipeline, alice, {"title": "Backup"})
    assert not created.replayed and Deal.objects.get() == created.deal


def test_a_key_past_its_lifetime_makes_a_new_deal_and_old_keys_are_removed(
    pipeline, alice, bob
):
    first = once(pipeline, alice, {"title": "Backup"})
    once(pipeline, bob, {"title": "Other"}, key="bobs")

    with timesource.frozen_at(T0 + KEY_LIFETIME + dt.timedelta(seconds=1)):
        later = once(pipeline, alice, {"title": "Backup"})

    assert not later.replayed and later.deal != first.deal
    assert list(IdempotencyKey.objects.values_list("deal", flat=True)) == [
        later.deal.pk
    ]


def test_a_key_is_still_kept_at_the_end_of_its_lifetime(pipeline, alice):
    first = once(pipeline, alice, {"title": "Backup"})

    with timesource.frozen_at(T0 + KEY_LIFETIME):
        assert once(pipeline, alice, {"title": "Backup"}).deal == first.deal


def test_keys_expire_by_real_time_under_a_demos_fixed_date(
    pipeline, alice, monkeypatch
):
    # A demo's as-of date stands still; a key dated by it would never expire
    # there, and all would expire at once when the database goes back to
    # real time.
    timesource.set_now(None)
    monkeypatch.setattr(timezone, "now", lambda: T0)
    with timesource.running_at("2017-12-31"):
        first = once(pipeline, alice, {"title": "Backup"})
        monkeypatch.setattr(timezone, "now", lambda: T0 + KEY_LIFETIME)
        kept = once(pipeline, alice, {"title": "Backup"})
        later = T0 + KEY_LIFETIME + dt.timedelta(seconds=1)
        monkeypatch.setattr(timezone, "now", lambda: later)
        expired = once(pipeline, alice, {"title": "Backup"})

    assert kept.replayed and kept.deal == first.deal
    assert not expired.replayed and expired.deal != first.deal
    assert IdempotencyKey.objects.get().created_at == later


@pytest.mark.parametrize(
    "key", ["", " padded", "x" * 256, "naïve", "line\nbreak", "a b", "tab\there"]
)
def test_a_key_that_is_not_visible_ascii_is_refused_naming_it(pipeline, alice, key):
    with pytest.raises(ValidationError) as refused:
        once(pipeline, alice, {"title": "Backup"}, key=key)

    assert refused.value.field == "Idempotency-Key"
    assert not Deal.objects.exists()


def test_a_deleted_deal_takes_its_key_with_it(pipeline, alice):
    once(pipeline, alice, {"title": "Backup"}).deal.delete()

    assert not IdempotencyKey.objects.exists()


def _skip_on_memory_sqlite():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("an in-memory SQLite database is private to one thread")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_requests_with_one_key_at_the_same_moment_make_one_deal(
    pipeline, alice, round_
):
    _skip_on_memory_sqlite()
    barrier = threading.Barrier(2)
    outcomes: list[tuple[int, bool] | str] = []

    def send():
        try:
            barrier.wait()
            created = once(pipeline, alice, {"title": "Backup"})
            outcomes.append((created.deal.pk, created.replayed))
        except Exception as exc:  # any failure shows in the assert
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    deal = Deal.objects.get()
    assert sorted(outcomes, key=str) == sorted(
        [(deal.pk, False), (deal.pk, True)], key=str
    )
    assert IdempotencyKey.objects.get().deal == deal


# --- the API -------------------------------------------------------------------


@pytest.fixture
def api(client, alice):
    client.login(username="alice", password=PASSWORD)
    return client


def post_deal(api, key=None, **payload):
    headers = {} if key is None else {"Idempotency-Key": key}
    return api.post(
        "/api/v1/deals", payload, content_type="application/json", headers=headers
    )


def test_the_api_answers_a_retry_as_it_answered_the_first_request(api, pipeline, alice):
    body = {"pipeline": "new-business", "title": "Backup", "value": "1200.50"}
    first = post_deal(api, key="3f1c-retry", **body)
    # The deal moves on meanwhile; the retry is answered as the first was.
    move_deal(first.json()["id"], "discovery", by=alice, expected_version=1)

    again = post_deal(api, key="3f1c-retry", **body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.json()["stage"] == "inquiry"
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Deal.objects.count() == 1


def test_the_api_refuses_a_key_sent_with_another_body_with_a_422_naming_it(
    api, pipeline
):
    post_deal(api, key="k-9", pipeline="new-business", title="Backup")

    response = post_deal(api, key="k-9", pipeline="new-business", title="Other")

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == (
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    assert "send a new key for a new deal" in body["message"]
    assert Deal.objects.count() == 1


def test_the_api_refuses_a_key_too_long_naming_the_header(api, pipeline):
    response = post_deal(api, key="k" * 256, pipeline="new-business", title="X")

    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert not Deal.objects.exists()


def test_without_a_key_each_api_request_makes_a_deal(api, pipeline):
    for _ in range(2):
        assert post_deal(api, pipeline="new-business", title="X").status_code == 201

    assert Deal.objects.count() == 2


def test_the_schema_documents_the_idempotency_key_header(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    parameters = schema["paths"]["/api/v1/deals"]["post"]["parameters"]

    header = next(p for p in parameters if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and not header.get("required")
    assert "24 hours" in header["description"]


# --- the New deal page ---------------------------------------------------------


@pytest.fixture
def page(client, alice):
    client.force_login(alice)
    return client


def form_token(response) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', response.content.decode())
    assert found, "the form carries no token"
    return found.group(1)


def test_each_new_deal_form_carries_its_own_token(page, pipeline):
    tokens = {form_token(page.get(f"{NEW}?pipeline=new-business")) for _ in range(2)}

    assert len(tokens) == 2


def test_a_form_sent_twice_makes_one_deal_and_shows_it_both_times(page, pipeline):
    token = form_token(page.get(f"{NEW}?pipeline=new-business"))
    posted = {"form_token": token, "title": "Backup", "owner": "alice"}

    first = page.post(f"{NEW}?pipeline=new-business", posted)
    again = page.post(f"{NEW}?pipeline=new-business", posted, follow=True)

    deal = Deal.objects.get()
    assert first["Location"] == reverse("deal", args=[deal.pk])
    assert again.redirect_chain == [(reverse("deal", args=[deal.pk]), 302)]
    assert "This form was sent twice; it made one deal, this one." in (
        again.content.decode()
    )


def test_a_form_sent_again_with_changes_shows_its_deal_and_saves_nothing(
    page, pipeline
):
    token = form_token(page.get(f"{NEW}?pipeline=new-business"))
    page.post(
        f"{NEW}?pipeline=new-business",
        {"form_token": token, "title": "Backup", "owner": "alice"},
    )

    again = page.post(
        f"{NEW}?pipeline=new-business",
        {"form_token": token, "title": "Backup, renamed", "owner": "alice"},
        follow=True,
    )

    deal = Deal.objects.get()
    assert deal.title == "Backup"
    assert again.redirect_chain == [(reverse("deal", args=[deal.pk]), 302)]
    assert "what it brought the second time was not saved" in again.content.decode()


def test_a_refused_form_keeps_its_token_and_makes_one_deal_once_put_right(
    page, pipeline
):
    token = form_token(page.get(f"{NEW}?pipeline=new-business"))

    refused = page.post(
        f"{NEW}?pipeline=new-business",
        {"form_token": token, "title": "Backup", "owner": "alice", "value": "lots"},
    )
    assert refused.status_code == 422 and form_token(refused) == token

    posted = {"form_token": token, "title": "Backup", "owner": "alice", "value": "5"}
    for _ in range(2):
        assert page.post(f"{NEW}?pipeline=new-business", posted).status_code == 302
    assert Deal.objects.count() == 1


def test_a_token_sent_to_another_pipeline_is_another_request(page, pipeline):
    other = Pipeline.objects.create(key="renewals", name="Renewals", currency="USD")
    other.stages.create(key="open", name="Open", position=1)
    token = form_token(page.get(f"{NEW}?pipeline=new-business"))
    posted = {"form_token": token, "title": "Backup", "owner": "alice"}
    page.post(f"{NEW}?pipeline=new-business", posted)

    response = page.post(f"{NEW}?pipeline=renewals", posted, follow=True)

    deal = Deal.objects.get()
    assert deal.pipeline == pipeline
    assert "This form had already made this deal" in response.content.decode()
    assert "This form was sent twice" not in response.content.decode()


def test_a_damaged_token_is_refused_and_the_form_given_a_fresh_one(page, pipeline):
    response = page.post(
        f"{NEW}?pipeline=new-business",
        {"form_token": "<not a token>\n", "title": "Backup", "owner": "alice"},
    )

    assert response.status_code == 422
    assert "form_token must be 1 to 255 visible ASCII characters" in (
        response.content.decode()
    )
    assert form_token(response) != "<not a token>\n"
    assert not Deal.objects.exists()


def test_a_form_from_before_the_token_still_makes_a_deal(page, pipeline):
    response = page.post(
        f"{NEW}?pipeline=new-business", {"title": "Backup", "owner": "alice"}
    )

    assert response.status_code == 302 and Deal.objects.count() == 1
