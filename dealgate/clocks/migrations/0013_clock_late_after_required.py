"""`late_after` is written with every due time (clocks 0012 gave the stored
clocks theirs): the column becomes required, and the sweep's partial index of
running clocks, `clock_due`, moves from `due_at` to it."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("clocks", "0012_clock_late_after")]

    operations = [
        migrations.AlterField(
            model_name="clock",
            name="late_after",
            field=models.DateTimeField(),
        ),
        migrations.RemoveIndex(model_name="clock", name="clock_due"),
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(
                condition=Q(("state", "running")),
                fields=["late_after"],
                name="clock_due",
            ),
        ),
    ]
