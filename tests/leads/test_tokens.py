"""API tokens: `dealgate token create` shows the secret once; only a hash stays."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from dealgate import timesource
from dealgate.accounts.access import revoke_tokens
from dealgate.cli import main
from dealgate.leads.models import ApiToken, Availability
from dealgate.leads.tokens import create_token, revoke_token, user_for_token


def test_token_create_prints_the_secret_once_and_stores_its_hash(olivia, capsys):
    assert main(["token", "create", "olivia", "--name", "website"]) == 0

    secret = capsys.readouterr().out.splitlines()[1]
    token = ApiToken.objects.get()
    assert secret.startswith("dg_") and len(secret) > 40
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    assert user_for_token(secret) == olivia


def test_token_list_and_revoke(olivia, capsys):
    main(["token", "create", "olivia"])
    secret = capsys.readouterr().out.splitlines()[1]
    token = ApiToken.objects.get()

    main(["token", "list"])
    listing = capsys.readouterr().out
    assert f"{token.prefix}..." in listing and secret not in listing

    assert main(["token", "revoke", str(token.pk)]) == 0
    assert user_for_token(secret) is None


def test_an_unknown_user_is_a_one_line_error(db, capsys):
    assert main(["token", "create", "nobody"]) == 2
    assert capsys.readouterr().err == "dealgate: no user 'nobody'\n"


def test_routing_rules_are_checked_then_applied_from_a_file(routed, tmp_path, capsys):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[routing]]\nname = "all"\nto = "team:Central"\n')

    assert main(["leads", "routing", "--file", str(rules)]) == 0
    assert "nothing stored" in capsys.readouterr().out
    routed.refresh_from_db()
    assert routed.settings["routing"][0]["name"] == "DACH"

    assert main(["leads", "routing", "--file", str(rules), "--apply"]) == 0
    routed.refresh_from_db()
    assert routed.settings["routing"] == [
        {"name": "all", "to": "team:Central", "how": "round-robin"}
    ]


def test_away_back_and_capacity(alice, capsys, now):
    assert main(["leads", "away", "alice", "--until", "2026-06-20"]) == 0
    # Through the whole of that day; no pipeline names a zone here: UTC.
    assert alice.availability.away_until.isoformat() == "2026-06-21T00:00:00+00:00"
    assert main(["leads", "capacity", "alice", "5"]) == 0
    assert main(["leads", "back", "alice"]) == 0
    alice.availability.refresh_from_db()
    assert alice.availability.away_until is None and alice.availability.capacity == 5


def test_a_token_records_its_last_use_at_most_once_a_minute(olivia, now):
    from dealgate import timesource
    from dealgate.leads.tokens import create_token

    token, secret = create_token(olivia, "website")

    def used_at_after_a_request(at):
        with timesource.frozen_at(at):
            assert user_for_token(secret) == olivia
        return ApiToken.objects.get(pk=token.pk).last_used_at

    assert used_at_after_a_request(now) == now
    later = now + dt.timedelta(seconds=59)
    assert used_at_after_a_request(later) == now
    a_minute_on = now + dt.timedelta(minutes=1)
    assert used_at_after_a_request(a_minute_on) == a_minute_on


def test_an_inactive_users_token_finds_nobody(olivia):
    from dealgate.leads.tokens import create_token

    _, secret = create_token(olivia, "website")
    olivia.is_active = False
    olivia.save()

    assert user_for_token(secret) is None
    assert user_for_token(secret + "x") is None


def test_away_until_a_day_ends_where_the_pipelines_work(routed, alice, capsys, now):
    # The pipeline's calendar is Berlin's: the 20th ends at 22:00 UTC.
    assert main(["leads", "away", "alice", "--until", "2026-06-20"]) == 0

    alice.availability.refresh_from_db()
    assert alice.availability.away_until.isoformat() == "2026-06-20T22:00:00+00:00"
    assert "alice is away from 2026-06-10 14:00 until 2026-06-21 00:00 " in (
        capsys.readouterr().out
    )


def test_away_until_a_day_already_past_is_refused(alice, capsys, now):
    assert main(["leads", "away", "alice", "--until", "2020-01-01"]) == 2

    assert "--until 2020-01-01 has passed" in capsys.readouterr().err
    assert not Availability.objects.filter(user=alice).exists()


def test_a_new_token_only_captures_leads_unless_made_to_open_more(olivia, capsys):
    main(["token", "create", "olivia", "--name", "website"])
    main(["token", "create", "olivia", "--name", "crm", "--scope", "leads"])
    main(["token", "create", "olivia", "--name", "crm sync", "--scope", "leads,deals"])
    created = capsys.readouterr().out.splitlines()

    website, crm, sync = ApiToken.objects.order_by("pk")
    assert created[0] == (
        f"token {website.pk} (website) for olivia, scope capture, opening "
        "capturing leads (POST /api/v1/leads) only:"
    )
    assert created[3] == (
        f"token {crm.pk} (crm) for olivia, scope leads, opening the lead "
        "endpoints only:"
    )
    assert created[6] == (
        f"token {sync.pk} (crm sync) for olivia, scope leads,deals, opening the "
        "lead and deals endpoints:"
    )
    scopes = dict(ApiToken.objects.values_list("name", "scope"))
    assert scopes == {"website": "capture", "crm": "leads", "crm sync": "leads,deals"}


def test_token_list_shows_each_tokens_scope(olivia, capsys):
    main(["token", "create", "olivia", "--name", "website"])
    main(["token", "create", "olivia", "--name", "crm sync", "--scope", "leads,deals"])
    capsys.readouterr()

    main(["token", "list"])

    website, sync = capsys.readouterr().out.splitlines()
    assert "website" in website and "scope capture " in website
    assert "crm sync" in sync and "scope leads,deals " in sync


def test_a_scope_that_is_none_of_the_three_is_refused_naming_them(olivia, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["token", "create", "olivia", "--scope", "deals"])

    assert exit.value.code == 2
    assert "--scope: invalid choice: 'deals'" in capsys.readouterr().err
    assert not ApiToken.objects.exists()


def test_create_token_refuses_an_unknown_scope_naming_the_field(olivia):
    from dealgate.errors import ValidationError
    from dealgate.leads.tokens import create_token

    with pytest.raises(ValidationError) as refused:
        create_token(olivia, "website", scope="everything")

    assert refused.value.field == "scope"
    assert refused.value.message == (
        "scope: 'everything' is no token scope; give capture, leads or leads,deals"
    )


def test_the_token_commands_help_says_what_a_token_opens(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])

    listing = " ".join(capsys.readouterr().out.split())
    assert (
        "REST API tokens: each captures leads, or opens the lead endpoints, or "
        "the deals' too" in listing
    )


def test_a_tokens_times_are_real_time_under_a_demos_fixed_date(olivia, monkeypatch):
    # When a token was made, used and revoked are facts about now: a demo's
    # as-of date would date a token made today years back.
    real = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
    timesource.set_now(None)
    monkeypatch.setattr(timezone, "now", lambda: real)
    with timesource.running_at("2017-12-31"):
        token, secret = create_token(olivia, "website")
        user_for_token(secret)
        revoke_token(token.pk)
        other, _ = create_token(olivia, "crm")
        revoke_tokens(olivia)

    token.refresh_from_db()
    other.refresh_from_db()
    assert (token.created_at, token.last_used_at, token.revoked_at) == (real,) * 3
    assert (other.created_at, other.revoked_at) == (real, real)


def test_token_list_marks_last_use_as_utc(olivia, capsys):
    main(["token", "create", "olivia", "--name", "website"])
    main(["token", "create", "olivia", "--name", "unused"])
    secret = capsys.readouterr().out.splitlines()[1]
    with timesource.frozen_at(dt.datetime(2026, 6, 10, 23, 30, tzinfo=dt.UTC)):
        assert user_for_token(secret) == olivia

    main(["token", "list"])

    used, unused = capsys.readouterr().out.splitlines()
    assert "last used 2026-06-10 23:30 UTC" in used
    assert "last used never" in unused
