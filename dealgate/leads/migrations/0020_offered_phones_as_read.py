"""Repeat-inquiry notes keep the phone they offer as it was read.

An offered phone was read again each time the offer was shown or taken, in
the lead's country at that time: "030 1234567", offered as a Berlin number,
became a number abroad once the lead was given another country. A note now
keeps the number with its country code as read when the inquiry joined
(`offers.note_data`, `data["offered_phone"]`). The notes written before
are given the number as their page showed it when this runs (in the lead's
country, else the inquiry's, else the pipeline's region); a phone that does
not read there is no longer offered, as the page already left it out, so
that a lead said to have offers (`offers.may_have_offers`) shows some.
"""

from django.db import migrations

BATCH = 1_000


def freeze(apps, schema_editor):
    from dealgate.leads import normalize
    from dealgate.leads.services import phone_region

    alias = schema_editor.connection.alias
    LeadActivity = apps.get_model("leads", "LeadActivity")
    notes = (
        LeadActivity.objects.using(alias)
        .filter(kind="inquiry", data__has_key="offered")
        .select_related("lead__pipeline")
        .order_by("id")
    )
    batch = []
    for note in notes.iterator(BATCH):
        data = note.data
        if "phone" not in data["offered"] or data.get("offered_phone"):
            continue
        lead = note.lead
        typed = data.get("phone") or ""
        region = lead.country or data.get("country") or phone_region(lead.pipeline)
        try:
            data["offered_phone"] = (
                typed
                if typed.startswith("+")
                else normalize.phone_international(typed, region)
            )
        except ValueError:
            data["offered"] = [name for name in data["offered"] if name != "phone"]
            if not data["offered"]:
                del data["offered"]
        batch.append(note)
        if len(batch) == BATCH:
            LeadActivity.objects.using(alias).bulk_update(batch, ["data"])
            batch = []
    LeadActivity.objects.using(alias).bulk_update(batch, ["data"])


class Migration(migrations.Migration):
    dependencies = [("leads", "0019_googlemail_keys_and_typo_block")]

    operations = [migrations.RunPython(freeze, migrations.RunPython.noop)]
