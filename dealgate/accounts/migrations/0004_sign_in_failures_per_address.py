"""Failed sign-ins counted per username from one address as well.

Until now a username was locked for everyone after five failures from any
addresses, so anyone could keep its owner out. The table's `key` becomes two
columns, `username` and `address`, for the new scope of a username from one
address (dealgate.accounts.signin), which also remembers a successful
sign-in.

Rows kept: an address's count and lock keep their meaning. A username's count
goes on as its count from all addresses, under the new, higher limit; a lock
it holds was started under the old limit of five and is lifted, since it is
exactly the lockout this change ends.
"""

from django.db import migrations, models


def split_key(apps, schema_editor):
    failures = apps.get_model("accounts", "SignInFailures")
    failures.objects.filter(scope="address").update(address=models.F("key"))
    failures.objects.filter(scope="username").update(
        username=models.F("key"), locked_until=None
    )


def join_key(apps, schema_editor):
    # Back to one count per username and per address: the counts of a
    # username from one address have no place there and are dropped.
    failures = apps.get_model("accounts", "SignInFailures")
    failures.objects.filter(scope="pair").delete()
    failures.objects.filter(scope="address").update(key=models.F("address"))
    failures.objects.filter(scope="username").update(key=models.F("username"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_sign_in_failures"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="signinfailures", name="sign_in_failures_unique"
        ),
        migrations.AddField(
            model_name="signinfailures",
            name="username",
            field=models.CharField(blank=True, default="", max_length=150),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="signinfailures",
            name="address",
            field=models.CharField(blank=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="signinfailures",
            name="signed_in_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="signinfailures",
            name="scope",
            field=models.CharField(
                choices=[
                    ("pair", "Username from one address"),
                    ("address", "Client address"),
                    ("username", "Username from any address"),
                ],
                max_length=10,
            ),
        ),
        # A default, so that undoing this migration can add the column back
        # to the rows there are then.
        migrations.AlterField(
            model_name="signinfailures",
            name="key",
            field=models.CharField(blank=True, default="", max_length=150),
        ),
        migrations.RunPython(split_key, join_key),
        migrations.RemoveField(model_name="signinfailures", name="key"),
        migrations.AddConstraint(
            model_name="signinfailures",
            constraint=models.UniqueConstraint(
                fields=("scope", "username", "address"),
                name="sign_in_failures_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="signinfailures",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("scope", "pair"),
                        models.Q(("username", ""), _negated=True),
                        models.Q(("address", ""), _negated=True),
                    ),
                    models.Q(
                        ("scope", "address"),
                        ("username", ""),
                        models.Q(("address", ""), _negated=True),
                    ),
                    models.Q(
                        ("address", ""),
                        ("scope", "username"),
                        models.Q(("username", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="sign_in_failures_scope_fits",
            ),
        ),
    ]
