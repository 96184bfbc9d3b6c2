"""Activity tags are compared without regard to case (`core.criteria.tag_key`):
tags stored as typed ("FIRST-REPLY") are put in lower case, as every door
now stores them, so held("email", "first-reply") meets them.

Only the tags that change are written. Going back leaves them lower case.
"""

from django.db import migrations

BATCH = 1_000


def lower_tags(apps, schema_editor):
    from dealgate.core.criteria import tag_key

    Activity = apps.get_model("deals", "Activity")
    rows = Activity.objects.using(schema_editor.connection.alias)
    batch = []
    for activity in (
        rows.exclude(tag="").only("id", "tag").order_by("id").iterator(BATCH)
    ):
        if activity.tag == tag_key(activity.tag):
            continue
        activity.tag = tag_key(activity.tag)
        batch.append(activity)
        if len(batch) == BATCH:
            rows.bulk_update(batch, ["tag"])
            batch = []
    rows.bulk_update(batch, ["tag"])


class Migration(migrations.Migration):
    dependencies = [("deals", "0012_blank_custom_values_unset")]

    operations = [migrations.RunPython(lower_tags, migrations.RunPython.noop)]
