"""A weekly review's decision gets a version, counted up by every write.

The review page posted back the decision's `recorded_at` to say which one it
showed; under a fixed business clock (a demo, DEALGATE_AS_OF, --as-of) every
write carries the same instant, so a stale page passed the check. Reviews
written before this start at version 1.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0005_entry_is_creation"),
    ]

    operations = [
        migrations.AddField(
            model_name="weeklyreview",
            name="version",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
