"""What a lead read over the API costs: the token's user and the lead, one
query each, every request, and the lead's read carries only what it shows."""

from __future__ import annotations

from dealgate.leads.services import capture_lead
from dealgate.leads.tokens import create_token
from tests.leads.conftest import CENTRAL_RULES, inquiry


def test_a_lead_read_with_a_token_is_two_queries(
    client, pipeline, olivia, alice, bob, now, django_assert_num_queries
):
    pipeline.settings = {"routing": CENTRAL_RULES}
    pipeline.save()
    lead = capture_lead(inquiry(), source="api", pipeline=pipeline).lead
    _, secret = create_token(olivia, "reader", scope="leads")
    headers = {"Authorization": f"Bearer {secret}"}
    client.get(f"/api/v1/leads/{lead.pk}", headers=headers)  # records its first use

    with django_assert_num_queries(2) as queries:
        response = client.get(f"/api/v1/leads/{lead.pk}", headers=headers)

    read = queries.captured_queries[1]["sql"]
    assert '"pipelines_pipeline"."key"' in read
    assert '"pipelines_pipeline"."settings"' not in read
    assert '"accounts_user"."password"' not in read

    body = response.json()
    assert (body["id"], body["pipeline"], body["owner"]) == (
        lead.pk,
        pipeline.key,
        lead.owner.username,
    )
