"""A token bound to a pipeline sends its captures that name none there, so a
second pipeline leaves a website's capture token working; binding, listing
and the warning `pipeline apply` gives before a second pipeline."""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from dealgate.cli import main
from dealgate.leads.models import ApiToken, Lead
from dealgate.leads.tokens import bind_token, create_token, second_pipeline_warning
from dealgate.pipelines.models import Pipeline

from .conftest import inquiry

URL = "/api/v1/leads"


def post(client, data, secret):
    return client.post(
        URL,
        json.dumps(data),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


@pytest.fixture
def renewals(routed):
    """A second pipeline, with the first one's calendar and stages."""
    second = Pipeline.objects.create(
        key="renewals", name="Renewals", calendar=routed.calendar
    )
    for stage in routed.stages.all():
        stage.pk = None
        stage.pipeline = second
        stage.save()
    return second


@pytest.mark.parametrize("scope", ["capture", "leads"])
def test_a_bound_token_captures_into_its_pipeline_among_several(
    client, routed, renewals, olivia, scope, now
):
    _, secret = create_token(olivia, "website", scope=scope, pipeline=routed)

    response = post(client, inquiry(), secret)

    assert response.status_code in (201, 202)
    assert Lead.objects.get().pipeline == routed


def test_an_unbound_token_among_several_pipelines_is_still_told_to_name_one(
    client, routed, renewals, olivia, now
):
    _, secret = create_token(olivia, "website")

    response = post(client, inquiry(), secret)

    assert response.status_code == 422
    assert response.json()["field"] == "pipeline"
    assert not Lead.objects.exists()


@pytest.mark.parametrize("scope", ["capture", "leads"])
def test_an_unbound_token_among_several_pipelines_is_told_how_to_bind_it(
    client, routed, renewals, olivia, scope, now
):
    token, secret = create_token(olivia, "website", scope=scope)

    message = post(client, inquiry(), secret).json()["message"]

    assert "say which one in the pipeline field" in message
    assert f"`dealgate token bind {token.pk} KEY`" in message
    # The command it names binds the token, and the same capture then goes in.
    assert main(["token", "bind", str(token.pk), "renewals"]) == 0
    assert post(client, inquiry(), secret).status_code in (201, 202)
    assert Lead.objects.get().pipeline == renewals


def test_a_session_among_several_pipelines_is_told_only_to_name_one(
    client, routed, renewals, olivia, now
):
    client.force_login(olivia)

    response = client.post(URL, json.dumps(inquiry()), content_type="application/json")

    assert response.status_code == 422
    assert response.json()["message"] == (
        "there are several pipelines; say which one in the pipeline field"
    )


def test_a_bound_token_naming_another_pipeline_is_refused_naming_its_own(
    client, routed, renewals, olivia, now
):
    _, secret = create_token(olivia, "website", scope="leads", pipeline=routed)

    response = post(client, inquiry(pipeline="renewals"), secret)

    assert response.status_code == 422
    assert "bound to the pipeline 'new-business'" in response.json()["message"]
    assert not Lead.objects.exists()


def test_token_create_binds_and_token_list_shows_pipeline_and_times(
    routed, olivia, capsys
):
    assert main(["token", "create", "olivia", "--pipeline", "new-business"]) == 0
    assert "capturing into pipeline new-business" in capsys.readouterr().out
    main(["token", "revoke", str(ApiToken.objects.get().pk)])
    capsys.readouterr()

    assert main(["token", "list", "olivia"]) == 0

    listing = capsys.readouterr().out
    assert "pipeline new-business" in listing
    assert "made 20" in listing and ", revoked 20" in listing
    assert "last used never" in listing


def test_token_create_refuses_a_pipeline_that_does_not_exist(routed, olivia, capsys):
    assert main(["token", "create", "olivia", "--pipeline", "nope"]) != 0

    assert "no pipeline 'nope'" in capsys.readouterr().err
    assert not ApiToken.objects.exists()


def test_token_list_of_an_unknown_user_names_them_and_fails(db, capsys):
    assert main(["token", "list", "nobody"]) != 0

    assert capsys.readouterr().err == "dealgate: no user 'nobody'\n"


def test_token_bind_binds_an_unbound_token_and_keeps_a_bound_one(
    routed, renewals, olivia, capsys
):
    token, _ = create_token(olivia, "website")

    assert main(["token", "bind", str(token.pk), "renewals"]) == 0

    token.refresh_from_db()
    assert token.pipeline == renewals
    with pytest.raises(Exception, match="bound to the pipeline 'renewals' already"):
        bind_token(token.pk, routed)


def test_the_migration_binds_capture_tokens_to_the_only_pipeline(routed, olivia):
    website, _ = create_token(olivia, "website")
    crm, _ = create_token(olivia, "crm", scope="leads")
    ApiToken.objects.update(pipeline=None)  # as made before tokens had one
    migration = import_module("dealgate.leads.migrations.0017_api_token_pipeline")

    migration.bind_capture_tokens(apps, connection.schema_editor())

    website.refresh_from_db()
    crm.refresh_from_db()
    assert (website.pipeline, crm.pipeline) == (routed, None)


def test_the_migration_binds_nothing_among_several_pipelines(routed, renewals, olivia):
    website, _ = create_token(olivia, "website")
    migration = import_module("dealgate.leads.migrations.0017_api_token_pipeline")

    migration.bind_capture_tokens(apps, connection.schema_editor())

    website.refresh_from_db()
    assert website.pipeline is None


def test_a_second_pipeline_is_warned_of_naming_the_unbound_tokens(routed, olivia):
    create_token(olivia, "bound", pipeline=routed)
    unbound, _ = create_token(olivia, "crm", scope="leads")

    warning = second_pipeline_warning()

    assert warning is not None
    assert f"1 API token bound to no pipeline (id {unbound.pk})" in warning
    assert f"dealgate token bind ID {routed.key}" in warning


def test_no_warning_when_every_token_is_bound_and_no_lead_came_by_api(routed, olivia):
    create_token(olivia, "bound", pipeline=routed)

    assert second_pipeline_warning() is None


def test_no_warning_for_a_third_pipeline(routed, renewals, olivia):
    create_token(olivia, "website")

    assert second_pipeline_warning() is None


def test_pipeline_apply_warns_before_a_second_pipeline(
    routed, olivia, tmp_path, capsys
):
    from tests.test_docs_examples import _short_example

    create_token(olivia, "crm", scope="leads")
    text = _short_example().replace('"new-business"', '"renewals"')
    text = text.replace('"user:darcel.schlecht"', '"deal-owner"')
    (tmp_path / "renewals.toml").write_text(text, encoding="utf-8")

    assert main(["pipeline", "apply", str(tmp_path / "renewals.toml")]) == 0

    assert "warning: with a second pipeline" in capsys.readouterr().err
    assert Pipeline.objects.filter(key="renewals").exists()


def test_a_capture_token_made_with_one_pipeline_is_bound_to_it(routed, olivia):
    website, _ = create_token(olivia, "website")
    crm, _ = create_token(olivia, "crm", scope="leads")

    assert (website.pipeline, crm.pipeline) == (routed, None)
    assert second_pipeline_warning() is not None  # the crm token


def test_a_website_token_keeps_capturing_after_a_second_pipeline(
    client, routed, olivia, now
):
    _, secret = create_token(olivia, "website")
    Pipeline.objects.create(key="renewals", name="Renewals", calendar={})

    response = post(client, inquiry(), secret)

    assert response.status_code == 202
    assert Lead.objects.get().pipeline == routed
