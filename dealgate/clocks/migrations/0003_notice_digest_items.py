"""A notice may gather several clocks that ran out for one person (a digest)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0002_lead_tasks"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="items",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
