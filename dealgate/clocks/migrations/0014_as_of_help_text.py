"""The as-of's help text says where a date alone ends its day: in the zone
the pipelines show their times in (`timesource.as_of_zone`), no longer UTC.
Only the text changes; no stored value is read differently by this."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clocks", "0013_clock_late_after_required")]

    operations = [
        migrations.AlterField(
            model_name="asof",
            name="value",
            field=models.CharField(
                help_text="a date (2017-12-31: the end of that day in the zone "
                "the pipelines show their times in, or the server's zone when "
                "theirs differ) or an ISO instant with a UTC offset",
                max_length=40,
            ),
        ),
    ]
