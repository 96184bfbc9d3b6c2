"""Company domains of stored leads that name no company: mailbox providers
missing from the first list (hotmail.de, bluewin.ch, orange.fr, ...) and
sites hosting many companies' pages (facebook.com). Each such lead, and each
repeat inquiry that a split would make a lead again, gets the domain a
capture gives it now: its website's, else its email's, else none.

New inquiries never match these keys (a capture's own key is never such a
domain); this keeps what the API and the pages show true. Repeats already
joined on such a domain stay joined: split them on /leads/decisions/."""

from django.db import migrations

BATCH = 500


def recompute(apps, schema_editor):
    from dealgate.leads.normalize import website_domain

    Lead = apps.get_model("leads", "Lead")
    DedupDecision = apps.get_model("leads", "DedupDecision")
    stored = Lead.objects.exclude(domain="").values_list("domain", flat=True)
    stale = sorted({d for d in stored.distinct().iterator() if not website_domain(d)})
    for start in range(0, len(stale), BATCH):
        chunk = stale[start : start + BATCH]
        for leads in _batches(Lead.objects.filter(domain__in=chunk)):
            for lead in leads:
                lead.domain = _domain(lead.website, lead.email_key)
            Lead.objects.bulk_update(leads, ["domain"])
        for decisions in _batches(DedupDecision.objects.filter(data__domain__in=chunk)):
            for decision in decisions:
                data = decision.data
                data["domain"] = _domain(data.get("website"), data.get("email_key"))
            DedupDecision.objects.bulk_update(decisions, ["data"])


def _batches(rows):
    """`rows` in id order, BATCH at a time. Read by id, not by the domain
    changed: a lead keeps facebook.com when it came from its email address."""
    last = 0
    while batch := list(rows.filter(id__gt=last).order_by("id")[:BATCH]):
        yield batch
        last = batch[-1].id


def _domain(website, email_key):
    from dealgate.leads.normalize import domain_key, email_domain, website_domain

    try:
        site = website_domain(domain_key(website or ""))
    except ValueError:
        site = ""
    return site or (email_domain(email_key) if email_key else "")


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_lead_task_done_at_by")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
