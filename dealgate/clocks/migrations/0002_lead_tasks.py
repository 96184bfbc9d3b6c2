"""A next-step clock may carry a lead's follow-up task."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0001_initial"),
        ("leads", "0003_lead_tasks"),
    ]

    operations = [
        migrations.AddField(
            model_name="clock",
            name="lead_task",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="leads.leadactivity",
            ),
        ),
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(
                condition=models.Q(("lead_task__isnull", False)),
                fields=["lead_task"],
                name="clock_lead_task",
            ),
        ),
    ]
