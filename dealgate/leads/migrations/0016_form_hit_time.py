"""The form's rate limit slides: each submission is counted at the moment it
was posted (`FormHit.window_start`), no longer in a fixed 10-minute slot,
and submissions older than a day are forgotten at each new one, by time:
an index on it. Rows counted in slots before stay as they are; they fall
out of the window, and are forgotten, as any."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("leads", "0015_company_blocks_and_mailbox_keys")]

    operations = [
        migrations.AddIndex(
            model_name="formhit",
            index=models.Index(fields=["window_start"], name="form_hit_time"),
        ),
    ]
