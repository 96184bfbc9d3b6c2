"""A system record keeps its whole account beside its one-line subject: an
edit of a closed deal records each field changed with its old and new value,
and the reason given, which a 300-character subject cannot hold (a deal's
notes alone may be 10,000). Existing rows have none."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deals", "0019_person_email_key_and_typo_block")]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="detail",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
