"""The as-of date a database may record: `dealgate demo` writes its data
set's last day, and every command on that database runs at it. A new table;
no existing row changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0005_clock_is_open"),
    ]

    operations = [
        migrations.CreateModel(
            name="AsOf",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "value",
                    models.CharField(
                        help_text="a date (2017-12-31, the end of that day, UTC) or an ISO instant with a UTC offset",
                        max_length=40,
                    ),
                ),
            ],
            options={
                "verbose_name": "as-of date",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="clocks_asof_one_row"
                    )
                ],
            },
        ),
    ]
