"""A digest keeps its first entries and counts the rest.

A digest of 50,000 clocks (the first sweep after an import) stored every
entry, a row of megabytes, while the notices page and messages show the
first 50 and send the rest to Today. From now on a digest keeps what is
shown and counts the rest in `more_items`. A digest written before keeps
every entry and reads as before: its first 50 shown, the rest counted.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0007_demo_as_of"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="more_items",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
