"""API tokens get the scope `capture`, which sends leads in and reads none,
and a new token gets it unless told otherwise: a token in a website's page
is anyone's who reads the page, and a `leads` token reads every lead.
Existing tokens keep the scope they have (`leads` or `leads,deals`): this
changes the column's choices and the default of rows made from now on, and
no row."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0012_api_token_scope"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[
                    ("capture", "capture"),
                    ("leads", "leads"),
                    ("leads,deals", "leads, deals"),
                ],
                default="capture",
                help_text="the endpoints the token opens: capturing leads only, "
                "the leads', or the deals' too",
                max_length=20,
            ),
        ),
    ]
