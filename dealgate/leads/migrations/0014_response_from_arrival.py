"""A lead's response time is the buyer's wait: from the inquiry's arrival
(`created_at`) to its first answer, no longer from the last assignment. A
lead that waited days for an owner, or was passed around, showed only the
minutes after its last hand-over. Recount every answered lead's
`response_wall_seconds` and `response_business_minutes` in its pipeline's
calendar as it is now, with the function new answers use
(`services.buyer_wait`). Reversing leaves them as recounted."""

from django.db import migrations

BATCH = 2000


def recount(apps, schema_editor):
    from dealgate.leads.services import buyer_wait
    from dealgate.pipelines.calendars import calendar_for

    Lead = apps.get_model("leads", "Lead")
    Pipeline = apps.get_model("pipelines", "Pipeline")
    for pipeline in Pipeline.objects.filter(
        pk__in=Lead.objects.filter(first_response_at__isnull=False).values(
            "pipeline_id"
        )
    ):
        calendar = calendar_for(pipeline)
        answered = Lead.objects.filter(
            pipeline=pipeline, first_response_at__isnull=False
        ).only("created_at", "first_response_at")
        batch = []
        for lead in answered.iterator(chunk_size=BATCH):
            # An answer dated before its lead (an import's odd dates) waited
            # nothing, as a business span cannot run backwards.
            arrived = min(lead.created_at, lead.first_response_at)
            wall, business = buyer_wait(calendar, arrived, lead.first_response_at)
            lead.response_wall_seconds = wall
            lead.response_business_minutes = business
            batch.append(lead)
            if len(batch) == BATCH:
                _store(Lead, batch)
                batch = []
        _store(Lead, batch)


def _store(Lead, batch):
    Lead.objects.bulk_update(
        batch, ["response_wall_seconds", "response_business_minutes"]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0013_api_token_capture_scope"),
        ("pipelines", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(recount, migrations.RunPython.noop, elidable=True),
    ]
