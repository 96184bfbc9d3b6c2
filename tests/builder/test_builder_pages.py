"""The builder in the web: build, edit, plan and apply, through the forms."""

from __future__ import annotations

import pytest
from django.test import Client

from dealgate.builder.drafts import working_copy
from dealgate.builder.models import Draft
from dealgate.core.pipeline_file import dump_pipeline, parse_pipeline
from dealgate.deals.models import Deal, StageEvent
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline, export_pipeline
from tests.builder.conftest import IT_SERVICES, post
from tests.web.helpers import make_deal, text_of

STAGES = [
    ("inquiry", "Inquiry received", "The buyer wrote about a need", "2"),
    ("discovery", "Discovery call booked", "The buyer accepted a call", "5"),
    ("proposal", "Proposal requested", "The buyer asked for a proposal", "10"),
    ("review", "Proposal reviewed", "The buyer reviewed the proposal", "10"),
    ("contract", "Contract requested", "The buyer asked for the contract", "15"),
]


def build(client: Client, key: str = "consulting") -> None:
    """Build a five-stage pipeline from empty with every kind of edit."""
    post(
        client,
        "/pipelines/new/",
        {"name": "Consulting", "key": key, "timezone": "Europe/Berlin"},
    )
    base = f"/pipelines/{key}/edit"
    for stage_key, name, action, limit in STAGES:
        post(
            client,
            f"{base}/stages/",
            {
                "name": name,
                "key": stage_key,
                "buyer_action": action,
                "owner": "deal-owner",
                "age_limit_days": limit,
                "probability": "20",
            },
        )
    rows = {"rows": "5"}
    for index, (start, end) in enumerate(
        zip(["lead", *[s[0] for s in STAGES]], [s[0] for s in STAGES], strict=False)
    ):
        rows |= {
            f"h{index}-start": start,
            f"h{index}-end": end,
            f"h{index}-window": ["15m", "2h", "2d", "1d", "4h"][index],
            f"h{index}-responsible": "stage-owner",
        }
    post(client, f"{base}/handoffs/", rows)
    criteria = [
        (
            "discovery",
            "exit",
            {"kind": "held", "activity": "meeting", "tag": "discovery"},
        ),
        ("discovery", "exit", {"kind": "field", "field": "expected_close_date"}),
        ("proposal", "exit", {"kind": "value", "amount": "5000"}),
        ("review", "entry", {"kind": "checkbox", "checkbox": "nda_signed"}),
        (
            "review",
            "exit",
            {"kind": "rule", "label": "Recent", "rule": "deal.value != null"},
        ),
        ("inquiry", "exit", {"kind": "field", "field": "organization"}),
        ("contract", "exit", {"kind": "checkbox", "checkbox": "contract_sent"}),
    ]
    for stage_key, which, fields in criteria:
        data = {f"{which}-{name}": value for name, value in fields.items()}
        post(client, f"{base}/stages/{stage_key}/criteria/{which}/", data)


def test_signed_out_visitors_are_sent_to_log_in(client, it_services):
    response = client.get("/pipelines/it-services/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_rep_may_read_but_not_edit(rep_client, it_services):
    assert rep_client.get("/pipelines/").status_code == 200
    assert rep_client.get("/pipelines/it-services/").status_code == 200
    assert rep_client.get("/pipelines/it-services/blueprint/").status_code == 200
    assert rep_client.get("/pipelines/it-services/edit/").status_code == 403
    post(rep_client, "/pipelines/new/", {"name": "Mine", "timezone": "UTC"}, status=403)
    post(rep_client, "/pipelines/it-services/apply/", status=403)
    assert "Edit" not in text_of(rep_client.get("/pipelines/it-services/"))


def test_a_manager_builds_a_pipeline_from_empty_and_applies_it(manager_client, now):
    build(manager_client)

    plan = manager_client.get("/pipelines/consulting/apply/")
    assert 'create the pipeline "Consulting"' in text_of(plan)
    assert "create pipeline 'consulting'" not in text_of(plan)
    assert 'add stage "Contract requested"' in text_of(plan)
    assert "add stage 'contract'" not in text_of(plan)
    post(manager_client, "/pipelines/consulting/apply/")

    pipeline = Pipeline.objects.get(key="consulting")
    assert [s.key for s in pipeline.stages.order_by("position")] == [
        s[0] for s in STAGES
    ]
    assert not Draft.objects.filter(key="consulting").exists()
    board = text_of(manager_client.get("/?pipeline=consulting"))
    assert "Discovery call booked" in board and "Contract requested" in board


def test_export_after_building_and_applying_again_gives_the_same_pipeline(
    manager_client, now
):
    build(manager_client)
    drafted = working_copy("consulting").spec
    post(manager_client, "/pipelines/consulting/apply/")

    exported = export_pipeline(Pipeline.objects.get(key="consulting"))
    again = parse_pipeline(dump_pipeline(exported))
    plan = apply_pipeline(again)

    assert exported == drafted
    assert again == exported
    assert not plan.has_changes
    discovery = exported.stages[1]
    assert [c.rule for c in discovery.exit_criteria] == [
        'held("meeting", "discovery")',
        "deal.expected_close_date != null",
    ]
    assert [h.response_window_minutes for h in exported.handoffs] == [
        15,
        120,
        960,
        480,
        240,
    ]


def test_a_file_applied_then_opened_in_the_builder_plans_no_changes(
    admin_client, it_services
):
    post(
        admin_client,
        "/pipelines/it-services/edit/pipeline/",
        {
            "name": it_services.name,
            "description": it_services.description,
            "currency": "EUR",
            "bottleneck_share": "0.4",
            "timezone": "Europe/Berlin",
        },
    )

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))

    assert "no changes" in plan
    assert working_copy("it-services").spec == parse_pipeline(
        IT_SERVICES.read_text(encoding="utf-8")
    )


def test_an_edit_of_an_applied_pipeline_is_planned_before_it_is_applied(
    admin_client, it_services
):
    url = "/pipelines/it-services/edit/stages/review/"
    form = {
        "name": "Proposal reviewed by the buyer",
        "buyer_action": "The buyer went through it",
        "owner": "deal-owner",
        "age_limit_days": "7",
        "probability": "55",
        "exit_criteria_mode": "any",
        "breach_default": "on",
    }
    post(admin_client, url, form)

    assert it_services.stages.get(key="review").age_limit_days == 10
    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))
    assert (
        'change stage "Proposal reviewed by the buyer": buyer action "The buyer '
        'went through the proposal with us and..." -> "The buyer went through it", '
        "age limit 10 -> 7, exit "
        "criteria: criteria needed all -> any" in plan
    )
    post(admin_client, "/pipelines/it-services/apply/")
    assert it_services.stages.get(key="review").age_limit_days == 7


def test_a_stage_is_renamed_in_place(admin_client, it_services):
    form = {
        "name": "Buyer reviewed the proposal",
        "buyer_action": "The buyer went through it",
        "owner": "deal-owner",
        "age_limit_days": "10",
        "probability": "55",
        "exit_criteria_mode": "all",
        "breach_default": "on",
    }
    post(admin_client, "/pipelines/it-services/edit/stages/review/", form)

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))
    assert (
        'change stage "Proposal reviewed by the buyer": name "Proposal reviewed '
        'by the buyer" -> "Buyer reviewed the proposal"' in plan
    )
    post(admin_client, "/pipelines/it-services/apply/")
    assert it_services.stages.get(key="review").name == "Buyer reviewed the proposal"


def test_stages_are_reordered_in_the_draft(admin_client, it_services):
    post(
        admin_client,
        "/pipelines/it-services/edit/stages/contract/move/",
        {"direction": "up"},
    )

    spec = working_copy("it-services").spec
    assert spec.stage_keys()[-2:] == ["contract", "review"]
    post(admin_client, "/pipelines/it-services/apply/")
    stages = it_services.stages.order_by("position")
    assert [s.key for s in stages][-2:] == ["contract", "review"]


def test_removing_a_stage_that_holds_deals_asks_where_they_go(
    admin_client, it_services, now
):
    deal = make_deal(it_services, "review", title="Acme rollout")
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")

    page = admin_client.get("/pipelines/it-services/apply/")
    assert "Where do their deals go?" in text_of(page)
    assert 'name="move-review"' in page.content.decode()
    refused = post(admin_client, "/pipelines/it-services/apply/", status=422)
    assert "still holds deals" in text_of(refused)
    assert it_services.stages.filter(key="review", retired_at=None).exists()

    post(admin_client, "/pipelines/it-services/apply/", {"move-review": "proposal"})

    deal.refresh_from_db()
    assert deal.stage.key == "proposal"
    event = StageEvent.objects.get(deal=deal, source="pipeline")
    assert (event.from_stage.key, event.to_stage.key) == ("review", "proposal")


def test_the_apply_page_asks_for_its_own_choice_never_a_command_line_flag(
    admin_client, it_services, now
):
    make_deal(it_services, "review", title="Acme rollout")
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))
    refused = text_of(post(admin_client, "/pipelines/it-services/apply/", status=422))

    assert (
        'remove stage "Proposal reviewed by the buyer" (it holds 1 open deal) '
        "-> choose where their deals go below" in plan
    )
    assert "still holds deals; choose where their deals go below" in refused
    for text in (plan, refused):
        assert "--move" not in text


def test_breach_actions_are_applied_to_the_pipeline_settings(admin_client, it_services):
    it_services.settings = {
        **it_services.settings,
        "breach": {"stages": {"proposal": {"task": "Chase the proposal"}}},
    }
    it_services.save()
    form = {
        "name": "Proposal requested",
        "buyer_action": "After the call, the buyer asked for a written proposal",
        "owner": "deal-owner",
        "age_limit_days": "10",
        "probability": "35",
        "exit_criteria_mode": "all",
        "on_breach": ["mark_at_risk", "task"],
    }
    post(admin_client, "/pipelines/it-services/edit/stages/proposal/", form)

    plan = text_of(admin_client.get("/pipelines/it-services/apply/"))
    assert (
        "change what happens when a deal outstays its age limit: stage "
        '"Proposal requested": Mark the deal at risk; Create a follow-up task '
        "(was: the pipeline's default)" in plan
    )
    post(admin_client, "/pipelines/it-services/apply/")
    it_services.refresh_from_db()
    assert it_services.settings["breach"]["stages"]["proposal"] == {
        "task": "Chase the proposal",
        "on_breach": ["mark_at_risk", "task"],
    }


def test_a_criterion_whose_rule_does_not_compile_is_refused(admin_client, it_services):
    response = post(
        admin_client,
        "/pipelines/it-services/edit/stages/review/criteria/exit/",
        {"exit-kind": "rule", "exit-label": "Typo", "exit-rule": "deal.valeu > 1"},
        status=422,
    )

    assert "the rule does not compile" in text_of(response)
    assert "a deal has no field 'valeu'" in text_of(response)
    assert not Draft.objects.filter(key="it-services").exists()


def test_a_criterion_that_could_never_be_met_is_refused_with_the_close_match(
    admin_client, it_services
):
    response = post(
        admin_client,
        "/pipelines/it-services/edit/stages/review/criteria/exit/",
        {
            "exit-kind": "rule",
            "exit-label": "Slot booked",
            "exit-rule": "deal.custom.cal_date != null",
        },
        status=422,
    )

    assert "no custom field 'cal_date' (did you mean 'call_date'?)" in text_of(response)
    assert not Draft.objects.filter(key="it-services").exists()


def test_a_criterion_is_edited_as_text_and_removed(admin_client, it_services):
    url = "/pipelines/it-services/edit/stages/discovery/criteria/exit/0/"
    post(admin_client, url, {"exit0-label": "Call held", "exit0-rule": "held('call')"})
    post(
        admin_client,
        "/pipelines/it-services/edit/stages/discovery/criteria/exit/1/",
        {"remove": "1"},
    )

    exit_criteria = working_copy("it-services").spec.stages[1].exit_criteria
    assert [(c.label, c.rule) for c in exit_criteria] == [
        ("Call held", "held('call')"),
        ("The buyer named a decision date", "deal.custom.decision_date != null"),
    ]


def test_a_refused_criterion_edit_keeps_what_was_typed_and_names_the_criterion(
    admin_client, it_services
):
    url = "/pipelines/it-services/edit/stages/discovery/criteria/exit/2/"
    response = post(
        admin_client,
        url,
        {"exit2-label": "Decision date named", "exit2-rule": "deal.custom.nope == 1"},
        status=422,
    )

    page = text_of(response)
    assert (
        "Exit criterion 3 ('The buyer named a decision date') of stage "
        "Discovery call booked was not saved: the rule does not compile:"
    ) in page
    assert "no custom field 'nope'" in page
    form = response.context["criteria"][1][1][2]
    assert (form["label"].value(), form["rule"].value()) == (
        "Decision date named",
        "deal.custom.nope == 1",
    )
    assert "deal.custom.nope == 1</textarea>" in response.content.decode()
    assert not Draft.objects.filter(key="it-services").exists()


def test_a_criterion_edit_without_a_label_is_refused_keeping_the_rule(
    admin_client, it_services
):
    url = "/pipelines/it-services/edit/stages/discovery/criteria/exit/0/"
    response = post(
        admin_client,
        url,
        {"exit0-label": " ", "exit0-rule": "held('call')"},
        status=422,
    )

    assert (
        "Exit criterion 1 ('The call took place') of stage Discovery call booked "
        "was not saved: a criterion needs a label people read."
    ) in text_of(response)
    assert "held(&#x27;call&#x27;)</textarea>" in response.content.decode()


def test_a_draft_with_problems_cannot_be_applied(manager_client, now):
    post(manager_client, "/pipelines/new/", {"name": "Thin", "timezone": "UTC"})
    post(
        manager_client,
        "/pipelines/thin/edit/stages/",
        {
            "name": "Call booked",
            "buyer_action": "The buyer booked",
            "owner": "",
            "age_limit_days": "3",
        },
    )

    page = text_of(manager_client.get("/pipelines/thin/apply/"))
    assert "Fix these before applying" in page
    assert "stage 'Call booked': owner: must be \"deal-owner\"" in page
    post(manager_client, "/pipelines/thin/apply/", status=422)
    assert not Pipeline.objects.filter(key="thin").exists()


def test_the_builder_page_shows_the_review_of_the_draft(manager_client, now):
    post(manager_client, "/pipelines/new/", {"name": "Thin", "timezone": "UTC"})
    post(
        manager_client,
        "/pipelines/thin/edit/stages/",
        {
            "name": "Follow-up sent",
            "buyer_action": "The buyer went quiet",
            "owner": "deal-owner",
            "age_limit_days": "3",
        },
    )

    page = text_of(manager_client.get("/pipelines/thin/edit/"))

    assert "Design review" in page
    assert "1 stage: five to seven is the usual good size" in page
    assert "is named for what the seller did ('sent')" in page
    assert (
        'There is no handoff from a new lead to stage "Follow-up sent": no '
        "response window times the answer" in page
    )


def test_the_draft_is_edited_as_a_file(admin_client, it_services):
    text = dump_pipeline(export_pipeline(it_services))
    broken = text.replace("age_limit_days = 5", "age_limit_days = -5")

    refused = post(
        admin_client, "/pipelines/it-services/edit/file/", {"text": broken}, status=422
    )
    post(
        admin_client,
        "/pipelines/it-services/edit/file/",
        {"text": text.replace("age_limit_days = 5", "age_limit_days = 6")},
    )

    assert "it-services.toml:" in text_of(refused)
    assert "must be a whole number of business days from 1 to 365" in text_of(refused)
    assert working_copy("it-services").spec.stages[1].age_limit_days == 6


def test_a_draft_says_when_the_pipeline_changed_under_it(admin_client, it_services):
    post(
        admin_client,
        "/pipelines/it-services/edit/stages/review/move/",
        {"direction": "up"},
    )
    changed = IT_SERVICES.read_text(encoding="utf-8").replace(
        "age_limit_days = 15", "age_limit_days = 20"
    )
    apply_pipeline(parse_pipeline(changed))

    page = text_of(admin_client.get("/pipelines/it-services/edit/"))

    assert "The applied pipeline changed since this draft was started" in page


def test_discarding_a_draft_leaves_the_pipeline_as_it_was(admin_client, it_services):
    post(admin_client, "/pipelines/it-services/edit/stages/review/remove/")
    post(admin_client, "/pipelines/it-services/edit/discard/", {"confirm": "discard"})

    assert not Draft.objects.filter(key="it-services").exists()
    assert working_copy("it-services").spec.stage_keys()[3] == "review"


def test_forms_refuse_a_post_without_the_csrf_token(olivia, it_services):
    client = Client(enforce_csrf_checks=True)
    client.force_login(olivia)

    response = client.post("/pipelines/it-services/edit/stages/review/remove/")

    assert response.status_code == 403
    assert not Draft.objects.filter(key="it-services").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "X", "key": "it-services", "timezone": "UTC"}, "already a pipeline"),
        ({"name": "X", "key": "Bad Key", "timezone": "UTC"}, "is a slug"),
        ({"name": "X", "timezone": "Mars/Base"}, "unknown time zone"),
        ({"name": "New", "timezone": "UTC"}, "names a builder page"),
    ],
)
def test_a_new_pipeline_needs_a_fresh_key_and_a_real_time_zone(
    admin_client, it_services, data, message
):
    response = post(admin_client, "/pipelines/new/", data, status=422)

    assert message in text_of(response)


def test_the_pipeline_page_shows_the_picture_and_the_data_review(
    admin_client, it_services, now
):
    for n in range(3):
        make_deal(it_services, "inquiry", title=f"Deal {n}", days_in_stage=30)
    Deal.objects.update(owner=None)

    page = admin_client.get("/pipelines/it-services/")

    body = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in body
    assert "3 at risk" in body
    assert (
        'Stage "Inquiry received" holds 100% of the open deals (3), more '
        "than the bottleneck share of 40%" in text_of(page)
    )


def test_breach_actions_are_kept_in_the_draft_until_it_is_applied(
    admin_client, it_services
):
    before = dict(it_services.settings)
    form = {
        "name": "Proposal requested",
        "buyer_action": "After the call, the buyer asked for a written proposal",
        "owner": "deal-owner",
        "age_limit_days": "10",
        "probability": "35",
        "exit_criteria_mode": "all",
        "on_breach": ["notify"],
    }
    post(admin_client, "/pipelines/it-services/edit/stages/proposal/", form)

    it_services.refresh_from_db()
    assert it_services.settings == before
    spec = working_copy("it-services").spec
    assert spec.stages[2].breach == {"on_breach": ["notify"]}
    file = admin_client.get("/pipelines/it-services/edit/file/").content.decode()
    assert "on_breach = [&quot;notify&quot;]" in file

    post(admin_client, "/pipelines/it-services/apply/")

    it_services.refresh_from_db()
    assert it_services.settings["breach"]["stages"]["proposal"] == {
        "on_breach": ["notify"]
    }
    # The example's own rules are applied with it, not lost beside it.
    assert it_services.settings["breach"]["handoffs"] == {
        "lead->inquiry": {"escalate_after": "30m"}
    }


@pytest.mark.parametrize("rows", [None, "x", "99999999999999999999999"])
def test_a_handoff_table_without_a_row_count_is_refused_and_keeps_the_handoffs(
    admin_client, it_services, rows
):
    before = working_copy("it-services").spec.handoffs

    response = post(
        admin_client,
        "/pipelines/it-services/edit/handoffs/",
        {} if rows is None else {"rows": rows},
        status=400,
    )

    page = response.content.decode()
    assert "This request could not be read" in page
    assert "rows must be a whole number of rows from 0 to 1,000" in page
    assert working_copy("it-services").spec.handoffs == before


def test_a_stage_name_of_invisible_characters_is_refused_at_its_input(
    admin_client, it_services
):
    form = {
        "name": "\u2800",
        "buyer_action": "The buyer went through it",
        "owner": "deal-owner",
        "age_limit_days": "10",
        "probability": "55",
        "exit_criteria_mode": "all",
        "breach_default": "on",
    }

    response = post(
        admin_client, "/pipelines/it-services/edit/stages/review/", form, status=422
    )

    assert "holds no visible characters (U+2800)" in text_of(response)
    assert not Draft.objects.exists()


@pytest.mark.parametrize("window", ["0m", "366d", "soon"])
def test_a_handoff_window_out_of_range_is_refused_with_the_range(
    admin_client, it_services, window
):
    before = working_copy("it-services").spec.handoffs
    first = before[0]
    form = {
        "rows": "1",
        "h0-start": first.from_stage or "lead",
        "h0-end": first.to_stage,
        "h0-window": window,
        "h0-responsible": "stage-owner",
    }

    response = post(
        admin_client, "/pipelines/it-services/edit/handoffs/", form, status=422
    )

    assert "from 1m to 365d" in text_of(response)
    assert working_copy("it-services").spec.handoffs == before
