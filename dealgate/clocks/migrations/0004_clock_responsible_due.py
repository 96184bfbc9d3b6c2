"""A person's clocks indexed by state and due time, so that a sweep's
breaches touch each person's index range at its due end."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0003_notice_digest_items"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="clock",
            name="clock_responsible_state",
        ),
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(
                fields=["responsible", "state", "due_at"],
                name="clock_responsible_due",
            ),
        ),
    ]
