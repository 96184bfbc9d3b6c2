"""Upgrading keeps every existing API token to the lead endpoints: they were
made when a token opened nothing else, and many sit in websites' lead
forms, where anyone reading the page can copy them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dealgate.leads.models import ApiToken
from dealgate.leads.tokens import hash_secret, read_token
from tests.conftest import NOW

BEFORE_SCOPES = [("leads", "0011_company_keys_without_invisibles")]


@pytest.mark.django_db(transaction=True)
def test_tokens_made_before_scopes_open_only_the_lead_endpoints(olivia):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE_SCOPES)
        old = executor.loader.project_state(BEFORE_SCOPES).apps
        OldToken = old.get_model("leads", "ApiToken")
        OldToken.objects.create(
            user_id=olivia.pk,
            name="website",
            key_hash=hash_secret("dg_made-before-scopes"),
            prefix="dg_made-b",
            created_at=NOW,
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    token = ApiToken.objects.get()
    assert (token.name, token.scope) == ("website", "leads")
    assert not token.opens_deals


BEFORE_CAPTURE = [("leads", "0012_api_token_scope")]


@pytest.mark.django_db(transaction=True)
def test_tokens_made_before_the_capture_scope_keep_what_they_opened(olivia):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE_CAPTURE)
        old = executor.loader.project_state(BEFORE_CAPTURE).apps
        OldToken = old.get_model("leads", "ApiToken")
        for name, scope in (("website", "leads"), ("crm sync", "leads,deals")):
            OldToken.objects.create(
                user_id=olivia.pk,
                name=name,
                scope=scope,
                key_hash=hash_secret(f"dg_{name}"),
                prefix="dg_made-b",
                created_at=NOW,
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    scopes = dict(ApiToken.objects.values_list("name", "scope"))
    assert scopes == {"website": "leads", "crm sync": "leads,deals"}
    assert read_token("dg_website").opens(ApiToken.Scope.LEADS)
    assert not read_token("dg_website").opens_deals
    assert read_token("dg_crm sync").opens_deals
