"""Receivers that keep clocks in step with deals, leads and activities.

Deals move through one service (`_apply_move` calls `services.deal_moved`
itself), but deals are created, leads assigned and answered, and activities
logged through several doors (pages, API, CLI, lead intake). Listening to the
saves keeps every door right without each one knowing about clocks. Bulk
writes (imports) send no signals: `dealgate clocks backfill` starts what they
missed. A lead capture writes its new lead's response clock itself, in the
statement that writes the lead (`services.response_clock`).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from dealgate.deals.models import Activity, Deal
from dealgate.leads.models import Lead

from . import services


def _touches(update_fields: Any, watched: frozenset[str]) -> bool:
    return update_fields is None or bool(watched.intersection(update_fields))


@receiver(post_save, sender=Deal, dispatch_uid="clocks-deal-created")
def _deal_saved(sender: type, instance: Deal, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        services.deal_created(instance)


@receiver(post_save, sender=Lead, dispatch_uid="clocks-lead-saved")
def _lead_saved(sender: type, instance: Lead, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw") or not _touches(
        kwargs.get("update_fields"), services.LEAD_FIELDS
    ):
        return
    services.lead_changed(instance, created=created)


@receiver(post_save, sender=Activity, dispatch_uid="clocks-activity-saved")
def _activity_saved(sender: type, instance: Activity, **kwargs: Any) -> None:
    if kwargs.get("raw") or not _touches(
        kwargs.get("update_fields"), services.ACTIVITY_FIELDS
    ):
        return
    services.activity_saved(instance)
