"""When a deal or a lead last changed: `updated_at`, stamped by every write.

One mechanism for every writer that goes through the ORM, so that no writer
has to remember it: a deal's or a lead's `save()` stamps the row (a save
limited to `update_fields` writes the stamp too), and so does every
`update()` of their querysets, `bulk_update` included, which Django makes of
updates, and a deletion's SET NULL (the models' base manager is this one).
So a version bumped with `update(version=F("version") + 1)` is always
stamped. A caller that passes `updated_at` itself keeps its value
(a move stamps its own instant to keep the loaded deal current).

Writers that bypass the ORM (an import's INSERT and COPY, dealgate.imports.
bulk) write the column themselves, one instant for every row of the import.

The instant is always `timesource.now()`: the pinned time in tests, the
as-of date of a demo.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models

from dealgate import timesource

FIELD = "updated_at"


def stamp() -> dt.datetime:
    """The instant a write made now records as the row's last change."""
    return timesource.now()


class StampedQuerySet(models.QuerySet):
    """A queryset whose `update()` stamps every row it writes."""

    def update(self, **kwargs: Any) -> int:
        kwargs.setdefault(FIELD, stamp())
        return super().update(**kwargs)

    update.alters_data = True  # type: ignore[attr-defined]


class StampedManager(models.Manager.from_queryset(StampedQuerySet)):  # type: ignore[misc]
    # In the migrations' models too, and as the models' base manager (their
    # Meta), which a deletion's SET NULL updates the rows through.
    use_in_migrations = True


class Stamped(models.Model):
    """Stamps `updated_at` (a field the model declares) on every save, and
    gives the model a StampedQuerySet for its `update()`s."""

    objects = StampedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields is not None:
            if not fields:
                # Django writes nothing for an empty list: neither do we.
                return super().save(*args, **kwargs)
            kwargs["update_fields"] = [*fields, FIELD]
        setattr(self, FIELD, stamp())
        super().save(*args, **kwargs)
