"""A person's session salt, changed when they are deactivated.

Django ends a session whose recorded hash of the person no longer matches,
as it does after a password change. The hash now takes the salt in too, so
deactivating someone ends every session they had, whatever the session
engine keeps, and reactivating them does not bring those back. Empty for
everyone here: their hash stays Django's, and nobody is signed out by the
upgrade.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_sign_in_failures_per_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="session_salt",
            field=models.CharField(
                blank=True, db_default="", default="", editable=False, max_length=32
            ),
        ),
    ]
