"""Two people in the builder at once: what is applied, discarded or saved is
the draft the person saw. Every builder form posts back what its page showed
(`seen`); a draft or applied pipeline changed since is a conflict (409, or
a message), and nothing is written."""

from __future__ import annotations

import re

from django.test import Client

from dealgate.builder.drafts import working_copy
from dealgate.builder.models import Draft
from dealgate.core.pipeline_file import parse_pipeline
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import text_of

EDIT = "/pipelines/it-services/edit/pipeline/"
APPLY = "/pipelines/it-services/apply/"
DISCARD = "/pipelines/it-services/edit/discard/"
BERLIN = {
    "name": "Draft A",
    "description": "",
    "currency": "EUR",
    "bottleneck_share": "0.4",
    "timezone": "Europe/Berlin",
}
LOS_ANGELES = BERLIN | {
    "name": "Draft B",
    "bottleneck_share": "0.9",
    "timezone": "America/Los_Angeles",
}


def seen_on(client: Client, url: str) -> str:
    """The `seen` the page at `url` carries in its forms."""
    page = client.get(url).content.decode()
    found = set(re.findall(r'name="seen" value="([^"]*)"', page))
    assert len(found) == 1, found
    return found.pop()


def draft_b_replaces_draft_a(boss: Client) -> None:
    post(boss, DISCARD, {"confirm": "discard"})
    post(boss, EDIT, LOS_ANGELES)


def test_applying_a_draft_changed_since_it_was_reviewed_is_refused(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)
    reviewed = seen_on(manager_client, APPLY)
    assert 'name "IT services: new business" -> "Draft A"' in text_of(
        manager_client.get(APPLY)
    )
    draft_b_replaces_draft_a(admin_client)

    refused = manager_client.post(APPLY, {"seen": reviewed})

    assert refused.status_code == 409
    page = text_of(refused)
    assert (
        "Nothing was applied the draft changed since you reviewed it; "
        "review it again" in page
    )
    assert 'name "IT services: new business" -> "Draft B"' in page
    it_services.refresh_from_db()
    assert it_services.name == "IT services: new business"
    assert it_services.calendar["timezone"] == "Europe/Berlin"
    assert working_copy("it-services").spec.name == "Draft B"


def test_the_refused_page_shows_the_draft_as_it_is_now_to_apply(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)
    reviewed = seen_on(manager_client, APPLY)
    draft_b_replaces_draft_a(admin_client)
    refused = manager_client.post(APPLY, {"seen": reviewed})
    again = re.search(r'name="seen" value="([^"]*)"', refused.content.decode())

    applied = manager_client.post(APPLY, {"seen": again.group(1)})

    assert applied.status_code == 302
    it_services.refresh_from_db()
    assert it_services.name == "Draft B"
    assert it_services.calendar["timezone"] == "America/Los_Angeles"


def test_applying_the_reviewed_draft_applies_it(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)

    applied = manager_client.post(APPLY, {"seen": seen_on(manager_client, APPLY)})

    assert applied.status_code == 302
    it_services.refresh_from_db()
    assert it_services.name == "Draft A"
    assert not Draft.objects.filter(key="it-services").exists()


def test_applying_after_the_applied_pipeline_changed_is_refused(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)
    reviewed = seen_on(manager_client, APPLY)
    changed = IT_SERVICES.read_text(encoding="utf-8").replace(
        "age_limit_days = 15", "age_limit_days = 20"
    )
    apply_pipeline(parse_pipeline(changed))

    refused = manager_client.post(APPLY, {"seen": reviewed})

    assert refused.status_code == 409
    assert (
        "the applied pipeline changed since you reviewed the draft; review it again"
        in text_of(refused)
    )
    assert Pipeline.objects.get(key="it-services").name == "IT services: new business"
    assert Draft.objects.filter(key="it-services").exists()


def test_applying_from_a_form_that_does_not_say_what_it_showed_is_refused(
    admin_client, it_services
):
    post(admin_client, EDIT, BERLIN)

    refused = admin_client.post(APPLY)

    assert refused.status_code == 422
    assert "the form did not say which draft it showed" in text_of(refused)
    assert Pipeline.objects.get(key="it-services").name == "IT services: new business"


def test_discarding_a_draft_changed_since_the_page_was_opened_keeps_it(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)
    opened = seen_on(manager_client, "/pipelines/it-services/edit/")
    post(admin_client, EDIT, LOS_ANGELES)

    kept = manager_client.post(
        DISCARD, {"seen": opened, "confirm": "discard"}, follow=True
    )

    assert (
        "The draft was kept: the draft changed since you opened it; review it again."
        in text_of(kept)
    )
    assert working_copy("it-services").spec.name == "Draft B"


def test_a_pipeline_form_from_a_stale_page_does_not_undo_a_newer_edit(
    admin_client, manager_client, it_services
):
    post(admin_client, EDIT, BERLIN)
    opened = seen_on(manager_client, "/pipelines/it-services/edit/")
    post(admin_client, EDIT, LOS_ANGELES)

    refused = manager_client.post(EDIT, BERLIN | {"name": "Mine", "seen": opened})

    assert refused.status_code == 409
    assert "the draft changed since you opened it; review it again" in text_of(refused)
    assert working_copy("it-services").spec.calendar["timezone"] == (
        "America/Los_Angeles"
    )


def test_a_stage_removed_from_a_stale_page_is_refused_with_a_message(
    admin_client, manager_client, it_services
):
    opened = seen_on(manager_client, "/pipelines/it-services/edit/")
    post(admin_client, EDIT, BERLIN)

    answer = manager_client.post(
        "/pipelines/it-services/edit/stages/review/remove/",
        {"seen": opened},
        follow=True,
    )

    assert (
        "someone started a draft of this pipeline since you opened it; "
        "review it again" in text_of(answer)
    )
    assert "review" in working_copy("it-services").spec.stage_keys()


def test_a_file_saved_from_a_stale_page_does_not_replace_a_newer_draft(
    admin_client, manager_client, it_services
):
    opened = seen_on(manager_client, "/pipelines/it-services/edit/file/")
    post(admin_client, EDIT, LOS_ANGELES)
    text = IT_SERVICES.read_text(encoding="utf-8")

    refused = manager_client.post(
        "/pipelines/it-services/edit/file/", {"text": text, "seen": opened}
    )

    assert refused.status_code == 409
    assert working_copy("it-services").spec.name == "Draft B"
