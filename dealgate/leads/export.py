"""Leads as a CSV file, as deals are written (`dealgate.deals.export`): one
snapshot, a row at a time, text made inert for spreadsheets, times with their
offset in the lead's pipeline's zone.

`dealgate export leads` and the inbox's "Download CSV" link both write
through here. The columns are in docs/export.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from dealgate.accounts.models import User
from dealgate.core.csvcells import csv_lines, exact, inert
from dealgate.core.rounding import whole
from dealgate.deals.export import (
    instant,
    owner_named,
    read_in_snapshot,
    refused_filter,
)
from dealgate.deals.queries import NoOwner, owned_by
from dealgate.pipelines.calendars import calendar_for
from dealgate.pipelines.models import Pipeline

from .models import Lead

LEAD_COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "company",
    "country",
    "source",
    "status",
    "owner",
    "pipeline",
    "created_at",
    "first_response_at",
    "first_response_business_minutes",
    "deal_id",
)

# What a row reads of a lead and its owner.
READ = (
    *("id", "name", "email", "phone", "company", "country", "source", "status"),
    *("pipeline", "created_at", "first_response_at"),
    *("response_business_minutes", "deal", "owner__username"),
)


@dataclass(frozen=True)
class LeadExport:
    """Which leads a file holds: those of `pipelines`, narrowed to the
    `statuses` and the owner (NO_OWNER: the leads no one owns) when given."""

    pipelines: tuple[Pipeline, ...]
    statuses: tuple[str, ...] = ()
    owner: User | NoOwner | None = None


def lead_export(
    *,
    pipeline: str | None = None,
    status: str | None = None,
    owner: str | None = None,
) -> LeadExport:
    """The export the filters ask for, each value checked: ValidationError
    names the filter as the command line spells it and what it may be. The
    status "open" stands for the inbox's three: new, assigned and answered."""
    pipelines = tuple(Pipeline.objects.order_by("pk"))
    if pipeline:
        pipelines = tuple(p for p in pipelines if p.key == pipeline)
        if not pipelines:
            raise refused_filter("pipeline", f"there is no pipeline {pipeline!r}")
    statuses: tuple[str, ...] = ()
    if status == "open":
        statuses = tuple(Lead.OPEN)
    elif status:
        if status not in Lead.Status.values:
            known = ", ".join(["open", *Lead.Status.values])
            raise refused_filter("status", f"{status!r} is not a status; use {known}")
        statuses = (status,)
    return LeadExport(pipelines, statuses, owner_named(owner))


def export_leads(export: LeadExport) -> QuerySet[Lead]:
    """The leads `export` holds."""
    leads = Lead.objects.filter(pipeline__in=export.pipelines)
    if export.statuses:
        leads = leads.filter(status__in=export.statuses)
    return leads.filter(owned_by(export.owner))


def lead_csv(export: LeadExport, leads: QuerySet[Lead] | None = None) -> Iterator[str]:
    """The file's lines: the header, then a line per lead of `leads` (by
    default `export_leads(export)`), read in one snapshot, CHUNK_ROWS rows
    at a time."""
    if leads is None:
        leads = export_leads(export)
    zones = {p.pk: calendar_for(p).zone for p in export.pipelines}
    keys = {p.pk: p.key for p in export.pipelines}
    # By id, with the owner joined in; the message, the routing reason and
    # the custom values a row does not write are left unread.
    leads = leads.select_related("owner").only(*READ).order_by("pk")
    with read_in_snapshot(leads) as found:
        rows = (_row(lead, keys, zones[lead.pipeline_id]) for lead in found)
        yield from csv_lines(LEAD_COLUMNS, rows)


def _row(lead: Lead, keys: dict[int, str], zone: dt.tzinfo) -> list[str]:
    minutes = lead.response_business_minutes
    return [
        str(lead.pk),
        inert(lead.name),
        inert(lead.email),
        # A phone number as typed ("+49 30 1234") starts like a formula too.
        inert(lead.phone),
        inert(lead.company),
        lead.country,
        inert(lead.source),
        lead.status,
        inert(lead.owner.username) if lead.owner else "",
        keys[lead.pipeline_id],
        instant(lead.created_at, zone),
        instant(lead.first_response_at, zone),
        # Whole minutes, halves up, as the lead report counts them.
        "" if minutes is None else exact(whole(minutes)),
        str(lead.deal_id) if lead.deal_id else "",
    ]
