from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0004_stage_replaced_by"),
    ]

    operations = [
        # Stages already there keep None: when a redesign added one before is
        # not recorded, so insights count it as there from the start.
        migrations.AddField(
            model_name="stage",
            name="added_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
