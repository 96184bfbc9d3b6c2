"""A notice keeps structured data beside its text, for the webhook's
"dealgate" object (a follow-up's offered and stored values). Nullable: old
notices, and those the sweep writes in raw SQL, have none."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clocks", "0014_as_of_help_text")]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="data",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
