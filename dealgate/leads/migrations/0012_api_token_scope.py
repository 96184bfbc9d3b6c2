"""API tokens get a scope: what they open. Every token made before opened
only the lead endpoints, and was handed out (to a website's lead form) on
that understanding, so each existing token keeps that scope, `leads`; a
token that also opens the deals is made as one
(`dealgate token create USER --scope leads,deals`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0011_company_keys_without_invisibles"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("leads", "leads"), ("leads,deals", "leads, deals")],
                default="leads",
                help_text="the endpoints the token opens: the leads', or the deals' too",
                max_length=20,
            ),
        ),
    ]
