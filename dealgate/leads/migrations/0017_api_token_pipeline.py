"""An API token may be bound to a pipeline: a capture with it that names no
pipeline goes there (`ApiToken.pipeline`). Until now such a capture went to
the only pipeline, and a second one made every website's capture a 422. The
capture tokens of an installation with one pipeline were all made for it, so
they are bound to it: adding a pipeline later leaves them working. With none
or several pipelines there is no telling which one a token was made for, and
its captures already name one, so they are left unbound. Reversing drops the
column."""

import django.db.models.deletion
from django.db import migrations, models


def bind_capture_tokens(apps, schema_editor):
    ApiToken = apps.get_model("leads", "ApiToken")
    Pipeline = apps.get_model("pipelines", "Pipeline")
    only = list(Pipeline.objects.values_list("pk", flat=True)[:2])
    if len(only) == 1:
        ApiToken.objects.filter(scope="capture", pipeline__isnull=True).update(
            pipeline_id=only[0]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0016_form_hit_time"),
        ("pipelines", "0004_stage_replaced_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="pipeline",
            field=models.ForeignKey(
                blank=True,
                help_text="the pipeline its captures go to when they name none",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="pipelines.pipeline",
            ),
        ),
        migrations.RunPython(bind_capture_tokens, migrations.RunPython.noop),
    ]
