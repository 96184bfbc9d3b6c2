"""Routing rules are the admins' (README, "Who may do what"), though they are
part of the pipeline file the builder edits: a manager's draft save or apply
that changes them is refused, naming `routing`, and nothing is written; the
rest of what a manager does in the builder goes on as before."""

from __future__ import annotations

from dataclasses import replace

from dealgate.builder import drafts
from dealgate.builder.drafts import working_copy
from dealgate.builder.models import Draft
from dealgate.core.pipeline_file import dump_pipeline
from dealgate.errors import ValidationError
from dealgate.pipelines.models import Pipeline
from tests.builder.conftest import post, seen_now
from tests.web.helpers import text_of

FILE = "/pipelines/it-services/edit/file/"
APPLY = "/pipelines/it-services/apply/"
ALL_TO_MAX = ({"name": "everything to me", "to": "user:max", "fallback": True},)


def applied_routing() -> list:
    return Pipeline.objects.get(key="it-services").settings["routing"]


def file_with(**changes) -> str:
    return dump_pipeline(replace(working_copy("it-services").spec, **changes))


def test_a_manager_cannot_save_a_file_that_changes_the_routing_rules(
    manager_client, it_services
):
    before = applied_routing()

    page = post(
        manager_client, FILE, {"text": file_with(routing=ALL_TO_MAX)}, status=422
    )

    text = page.content.decode()
    assert "routing: only an admin may change the routing rules" in text
    assert not Draft.objects.filter(key="it-services").exists()
    assert applied_routing() == before


def test_a_manager_still_saves_and_applies_a_file_that_keeps_the_routing(
    manager_client, it_services
):
    before = applied_routing()

    post(manager_client, FILE, {"text": file_with(name="IT services, renamed")})
    post(manager_client, APPLY)

    it_services.refresh_from_db()
    assert it_services.name == "IT services, renamed"
    assert applied_routing() == before


def test_an_admin_changes_the_routing_rules_through_the_file(
    admin_client, max_manager, it_services
):
    post(admin_client, FILE, {"text": file_with(routing=ALL_TO_MAX)})
    post(admin_client, APPLY)

    assert [rule["to"] for rule in applied_routing()] == ["user:max"]


def test_a_manager_cannot_apply_a_draft_whose_routing_differs(
    admin_client, manager_client, it_services
):
    before = applied_routing()
    post(admin_client, FILE, {"text": file_with(routing=ALL_TO_MAX)})

    plan = manager_client.get(APPLY).content.decode()
    refused = post(manager_client, APPLY, status=422).content.decode()

    assert "only an admin may change the routing rules" in plan
    assert "Apply the pipeline" not in plan
    assert "routing: only an admin may change the routing rules" in refused
    assert applied_routing() == before
    assert Draft.objects.filter(key="it-services").exists()


def test_a_manager_may_put_back_the_applied_routing_in_a_draft(
    max_manager, olivia, it_services
):
    spec = working_copy("it-services").spec
    drafts.replace_draft("it-services", olivia, replace(spec, routing=ALL_TO_MAX))
    draft = working_copy("it-services")

    drafts.replace_draft("it-services", max_manager, spec, seen=draft.seen)

    assert working_copy("it-services").spec.routing == spec.routing


def test_the_refusal_names_the_routing_field(max_manager, it_services):
    spec = working_copy("it-services").spec
    changed = replace(spec, routing=ALL_TO_MAX)

    try:
        drafts.replace_draft("it-services", max_manager, changed, seen=seen_now(FILE))
    except ValidationError as exc:
        assert exc.field == "routing"
    else:
        raise AssertionError("the routing change was saved")


def draft_changing_routing_and_name(olivia) -> None:
    """An admin's draft that renames the pipeline and changes its routing."""
    spec = working_copy("it-services").spec
    changed = replace(spec, name="IT services, renamed", routing=ALL_TO_MAX)
    drafts.replace_draft("it-services", olivia, changed)


def test_a_managers_overview_shows_a_routing_change_as_needing_an_admin(
    manager_client, olivia, it_services
):
    draft_changing_routing_and_name(olivia)

    page = text_of(manager_client.get("/pipelines/it-services/edit/"))

    assert "Draft, not applied yet: 1 change planned." in page
    assert (
        "It also changes the routing rules, which only an admin may apply: ask "
        "an admin, or put them back as applied."
    ) in page


def test_a_managers_plan_leaves_the_routing_change_out_of_its_count(
    max_manager, olivia, it_services
):
    draft_changing_routing_and_name(olivia)

    plan = drafts.plan_draft(working_copy("it-services"), by=max_manager)

    assert plan.needs_admin
    assert plan.change_count == 1
    assert plan.problems[0].startswith("routing: only an admin may change")


def test_an_admins_overview_counts_the_routing_change_as_one_to_apply(
    admin_client, olivia, max_manager, it_services
):
    draft_changing_routing_and_name(olivia)

    page = text_of(admin_client.get("/pipelines/it-services/edit/"))

    assert "Draft, not applied yet: 2 changes planned." in page
    assert "only an admin may apply" not in page


def test_a_draft_that_only_changes_routing_shows_no_change_a_manager_can_apply(
    manager_client, olivia, it_services
):
    spec = working_copy("it-services").spec
    drafts.replace_draft("it-services", olivia, replace(spec, routing=ALL_TO_MAX))

    page = text_of(manager_client.get("/pipelines/it-services/edit/"))

    assert "Draft, not applied yet." in page
    assert "planned" not in page
    assert "which only an admin may apply" in page
