"""Leads stored with a link's `mailto:` in front of their email keep the
address without it, as a capture and an edit now keep it
(`normalize.without_mailto`), and their email key is computed again from it
by the capture's rule (`normalize.email_key`).

Two leads whose addresses become one stay two leads: no constraint holds
a lead's email or key unique, and joining them is a merge's decision, not
an upgrade's. The deals' contacts are left alone: a person's email was
only ever written from a lead's by `normalize.email_address` or its key,
both of which drop the `mailto:`, or through the admin's email check,
which refuses it.
"""

import contextlib

from django.db import migrations

BATCH = 2_000


def clean(apps, schema_editor):
    from dealgate.leads import normalize

    Lead = apps.get_model("leads", "Lead")
    leads = Lead.objects.using(schema_editor.connection.alias)
    fields = ("email", "email_key")
    batch = []
    # icontains also finds an address stored with spaces before the prefix.
    for lead in (
        leads.filter(email__icontains="mailto:")
        .only("id", *fields)
        .order_by("id")
        .iterator(BATCH)
    ):
        email = normalize.without_mailto(lead.email)
        if email == lead.email:
            continue
        lead.email = email
        # An address that still does not read keeps the key it had: a key
        # is never a second, looser rule.
        with contextlib.suppress(ValueError):
            lead.email_key = normalize.email_key(email)
        batch.append(lead)
        if len(batch) == BATCH:
            leads.bulk_update(batch, fields)
            batch = []
    leads.bulk_update(batch, fields)


class Migration(migrations.Migration):
    dependencies = [("leads", "0021_lead_inquiry_digest")]

    operations = [migrations.RunPython(clean, migrations.RunPython.noop)]
