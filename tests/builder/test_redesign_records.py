"""What a redesign writes in a deal's history is the system's own: a deal
that a new order carries past gates gets a system record, not a note, and no
criterion counts it as something a person logged; a removed stage's deals
moved to a stage the new order puts after others say, in each deal's stage
history, where they came from, where they went and which stages they are now
past, whether or not an override was needed."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection

from dealgate.core import criteria as crit
from dealgate.deals import services
from dealgate.deals.models import Activity, Deal, StageEvent
from dealgate.errors import ValidationError
from dealgate.pipelines.redesign import passed_by_move
from dealgate.pipelines.services import apply_pipeline
from tests.builder.test_reorder_gates import REASON, SWAPPED, d2, notes_of, spec
from tests.builder.test_reorder_gates import pipeline as pipeline  # noqa: F401
from tests.web.helpers import make_deal, text_of

__all__ = ["d2"]

# Rules that count what people logged: none may count a system record.
COUNTING = {
    'held("note")': False,
    "activities.size() == 0": True,
    'activities.exists(a, a.kind == "note")': False,
    "activities.exists(a, a.done)": False,
}


def accepted(deal: Deal) -> Deal:
    deal.custom = {"quote_accepted": True}
    deal.save()
    return deal


def holds(deal: Deal, rule: str, now) -> bool:
    context = services.context_for(Deal.objects.get(pk=deal.pk), now)
    found = crit.CriteriaSet("all", [crit.Criterion("counted", rule)])
    return crit.evaluate(found, context).passed


def test_a_deal_carried_past_gates_gets_a_system_record_no_rule_counts(d2, olivia, now):
    accepted(d2)

    apply_pipeline(spec(*SWAPPED), by=olivia)

    (record,) = Activity.objects.filter(deal=d2)
    assert record.kind == Activity.Kind.SYSTEM
    assert notes_of(d2) == [
        "Pipeline 'four' redesigned by olivia: stage 'met' now stands after "
        "'quote', so this deal was carried past their gates; it met their exit "
        "criteria"
    ]
    for rule, expected in COUNTING.items():
        assert holds(d2, rule, now) is expected, rule


def test_a_person_s_note_still_counts_beside_a_system_record(d2, olivia, now):
    apply_pipeline(spec(*SWAPPED), by=olivia, override_reason=REASON)
    services.log_activity(d2.pk, kind="note", subject="Asked for a date", by=olivia)

    assert holds(d2, 'held("note")', now)
    assert holds(d2, "activities.size() == 1", now)


def test_no_door_logs_a_system_record(d2, alice, client):
    with pytest.raises(ValidationError) as refused:
        services.log_activity(d2.pk, kind="system", subject="Forged", by=alice)
    assert refused.value.field == "kind"
    client.force_login(alice)

    response = client.post(
        f"/api/v1/deals/{d2.pk}/activities",
        {"kind": "system", "subject": "Forged"},
        content_type="application/json",
    )

    assert response.status_code == 422, response.content
    assert not Activity.objects.filter(deal=d2).exists()


def test_the_deal_page_shows_a_system_record_as_one_and_offers_no_such_kind(
    d2, olivia, alice, client
):
    apply_pipeline(spec(*SWAPPED), by=olivia, override_reason=REASON)
    client.force_login(alice)

    response = client.get(f"/deals/{d2.pk}/")

    page = response.content.decode()
    assert "System record" in text_of(response)
    assert '<option value="system"' not in page
    assert '<option value="note"' in page


def test_passed_by_move_names_what_a_removed_stage_s_deals_end_up_past():
    before = ["asked", "met", "quote", "sign"]

    # Back to a stage the new order puts after one that stood after them.
    assert passed_by_move(before, ["quote", "asked", "sign"], "met", "asked") == [
        "quote"
    ]
    # Back, with nothing put before it: nothing passed.
    assert passed_by_move(before, ["asked", "quote", "sign"], "met", "asked") == []
    # Forward: every stage jumped.
    assert passed_by_move(before, ["asked", "quote", "sign"], "met", "sign") == [
        "quote"
    ]


def test_deals_sent_back_past_a_reordered_gate_say_so_without_an_override(
    pipeline,  # noqa: F811
    alice,
    olivia,
    now,
):
    open_deal = accepted(make_deal(pipeline, "met", title="Met it", owner=alice))
    lost = make_deal(pipeline, "met", owner=alice, status=Deal.Status.LOST)

    apply_pipeline(spec("quote", "asked", "sign"), moves={"met": "asked"}, by=olivia)

    moved = (
        "pipeline 'four' redesigned by olivia: stage 'met' (Met) was removed and "
        "its deals moved to 'asked' (Asked), now after 'quote'"
    )
    assert StageEvent.objects.get(deal=open_deal).override_reason == (
        f"{moved}; it met every criterion on the way"
    )
    # A closed deal passes no gate, yet its history says where it went.
    assert StageEvent.objects.get(deal=lost).override_reason == moved


def test_an_override_past_a_reordered_gate_names_the_stages_too(
    pipeline,  # noqa: F811
    alice,
    olivia,
    now,
):
    deal = make_deal(pipeline, "met", title="Not yet", owner=alice)

    apply_pipeline(
        spec("quote", "asked", "sign"), moves={"met": "asked"}, by=olivia,
        override_reason=REASON,
    )  # fmt: skip

    assert StageEvent.objects.get(deal=deal).override_reason == (
        "pipeline 'four' redesigned by olivia: stage 'met' (Met) was removed and "
        "its deals moved to 'asked' (Asked), now after 'quote'; moved past unmet "
        "criteria (1 exit criterion of 'Quote sent' is unmet: Quote accepted) by "
        f"override: {REASON}"
    )


def test_the_migration_labels_a_redesign_s_old_notes_as_system_records(d2, now):
    old = (
        "Pipeline 'four' redesigned by olivia: stage 'met' now stands after "
        "'quote', so this deal was carried past their gates; it met their exit "
        "criteria"
    )
    for subject in (old, "Pipeline 'four' looks good to the buyer"):
        Activity.objects.create(
            deal=d2, kind="note", subject=subject, done=True, at=now
        )
    migration = import_module("dealgate.deals.migrations.0015_system_activities")

    migration.label_system(apps, connection.schema_editor())

    kinds = Activity.objects.order_by("pk").values_list("kind", flat=True)
    assert list(kinds) == ["system", "note"]
    migration.label_notes(apps, connection.schema_editor())
    assert set(Activity.objects.values_list("kind", flat=True)) == {"note"}
