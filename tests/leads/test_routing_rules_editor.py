"""Two admins in the routing-rules editor: a save made on rules that another
save changed since is a 409 that shows the rules as they are now and keeps
what was typed; nothing is overwritten unseen."""

from __future__ import annotations

import pytest

from dealgate.core.digests import content_digest
from dealgate.errors import Conflict
from dealgate.leads.rules import rules_digest, save_rules
from tests.web.helpers import text_of

from .conftest import CENTRAL_RULES

pytestmark = pytest.mark.django_db

MINE = '[[routing]]\nname = "mine"\nto = "user:bob"\n'
THEIRS = [{"name": "theirs", "to": "user:alice"}]


def _save(client, text: str, seen: str):
    return client.post(
        "/leads/routing/", {"pipeline": "new-business", "rules": text, "seen": seen}
    )


def test_the_editor_sends_back_the_digest_of_the_rules_it_shows(client, routed, olivia):
    client.force_login(olivia)

    page = client.get("/leads/routing/").content.decode()

    assert f'name="seen" value="{rules_digest(routed)}"' in page
    assert rules_digest(routed) == content_digest(CENTRAL_RULES)


def test_a_save_on_rules_changed_since_is_409_showing_them_and_what_was_typed(
    client, routed, olivia
):
    client.force_login(olivia)
    seen = rules_digest(routed)
    save_rules(routed, THEIRS)

    refused = _save(client, MINE, seen)

    assert refused.status_code == 409
    said = text_of(refused)
    assert (
        "the routing rules of pipeline new-business changed since you opened "
        "them; nothing was saved" in said
    )
    page = refused.content.decode()
    assert (
        "name = &quot;theirs&quot;"
        in page.split('id="current-rules"')[1].split("</pre>")[0]
    )
    assert "name = &quot;mine&quot;" in page.split("<textarea")[1]
    routed.refresh_from_db()
    assert routed.settings["routing"] == THEIRS
    # The page now shows the rules as they are: saved again, what was typed
    # replaces them.
    assert f'name="seen" value="{rules_digest(routed)}"' in page
    assert _save(client, MINE, rules_digest(routed)).status_code == 302
    routed.refresh_from_db()
    assert routed.settings["routing"] == [{"name": "mine", "to": "user:bob"}]


def test_a_refused_save_keeps_the_digest_the_page_was_opened_on(client, routed, olivia):
    client.force_login(olivia)
    seen = rules_digest(routed)

    refused = _save(client, '[[routing]]\nname = "x"\nto = "user:zed"\n', seen)

    assert refused.status_code == 422
    assert f'name="seen" value="{seen}"' in refused.content.decode()


def test_a_form_that_does_not_say_which_rules_it_showed_is_refused(
    client, routed, olivia
):
    client.force_login(olivia)

    refused = _save(client, MINE, "")

    assert refused.status_code == 422
    assert "the form did not say which rules it showed" in text_of(refused)
    routed.refresh_from_db()
    assert routed.settings["routing"] == CENTRAL_RULES


def test_the_rules_digest_ignores_the_order_of_a_rules_keys(routed):
    reordered = [dict(reversed(list(rule.items()))) for rule in CENTRAL_RULES]

    assert rules_digest(routed) == content_digest(reordered)


def test_save_rules_without_a_digest_saves_as_the_command_line_does(routed):
    save_rules(routed, THEIRS)

    with pytest.raises(Conflict):
        save_rules(routed, THEIRS, seen=content_digest(CENTRAL_RULES))
    routed.refresh_from_db()
    assert routed.settings["routing"] == THEIRS
