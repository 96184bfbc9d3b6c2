"""Breach actions move from Draft.breach into the draft's spec, where a
pipeline file keeps them (each stage's `breach` keys)."""

from django.db import migrations


def fold_breach_into_spec(apps, schema_editor) -> None:
    # Without this, a draft saved before the change would lose the breach
    # actions it was edited to have.
    draft_model = apps.get_model("builder", "Draft")
    for draft in draft_model.objects.exclude(breach={}):
        for stage in draft.spec.get("stages", []):
            actions = (draft.breach or {}).get(stage.get("key"))
            if actions is not None:
                stage["breach"] = {**stage.get("breach", {}), "on_breach": actions}
        draft.save(update_fields=["spec"])


class Migration(migrations.Migration):
    dependencies = [("builder", "0001_initial")]

    operations = [
        migrations.RunPython(fold_breach_into_spec, migrations.RunPython.noop),
        migrations.RemoveField(model_name="draft", name="breach"),
    ]
