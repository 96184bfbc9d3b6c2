"""The leads report at an earlier instant (`dealgate --as-of DATE leads
report`) counts what had happened by then, as `dealgate report` does: the
leads that had arrived, the answers given and the deals closed by then, and
each lead's status as it stood (found by hap: at one as-of instant the two
reports gave 2 and 4 answered leads)."""

from __future__ import annotations

import datetime as dt

from dealgate import timesource
from dealgate.deals.models import Deal
from dealgate.leads.report import lead_report
from dealgate.leads.services import capture_lead, convert_lead, record_response
from tests.leads.conftest import inquiry


def test_the_lead_report_counts_only_leads_and_answers_up_to_its_instant(routed, now):
    early = capture_lead(inquiry(1), source="api").lead
    with timesource.frozen_at(now + dt.timedelta(minutes=5)):
        record_response(early.pk, kind="call", by=early.owner)
    later = now + dt.timedelta(days=7)
    with timesource.frozen_at(later):
        late = capture_lead(inquiry(2), source="api").lead
    with timesource.frozen_at(later + dt.timedelta(hours=1)):
        record_response(late.pk, kind="call", by=late.owner)

    with timesource.frozen_at(now + dt.timedelta(hours=1)):
        report = lead_report(routed)

    assert (report.leads, report.answered) == (1, 1)
    assert report.response_business_median == 5
    assert report.by_status == {"answered": 1}


def test_a_lead_answered_and_converted_later_was_assigned_and_overdue_then(
    routed, alice, now
):
    lead = capture_lead(inquiry(1), source="api").lead
    later = now + dt.timedelta(days=1)
    with timesource.frozen_at(later):
        record_response(lead.pk, kind="call", by=lead.owner)
        deal = convert_lead(lead.pk, by=alice)
    # Won as an import writes it: the move's gates are not what is tested.
    Deal.objects.filter(pk=deal.pk).update(status="won", closed_at=later)

    with timesource.frozen_at(now + dt.timedelta(hours=1)):
        then = lead_report(routed)
    with timesource.frozen_at(later + dt.timedelta(hours=1)):
        after = lead_report(routed)

    assert then.by_status == {"assigned": 1}
    assert (then.answered, then.overdue_now, then.won) == (0, 1, 0)
    assert [(row.leads, row.won) for row in then.sources] == [(1, 0)]
    assert after.by_status == {"converted": 1}
    assert (after.answered, after.overdue_now, after.won) == (1, 0, 1)
