"""A lead captured with an external id keeps a digest of the inquiry as
captured (`services.inquiry_digest`), so that a resend under the id is told
from another inquiry sent under it, whatever edits the lead had since.
Leads stored before get none: they are compared by their fields.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0020_offered_phones_as_read"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="inquiry_digest",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
