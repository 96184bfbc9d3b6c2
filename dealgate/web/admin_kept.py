"""The admin's refusal to delete a record that others still name.

Django's delete page lists what a deletion would take with it and refuses
only for protected foreign keys. A person, a team or a pipeline is also
named where no foreign key points (handoffs and routing rules by name), and
a deletion that takes deals or history with it must not happen at all: the
page says what keeps the record instead, and how to retire it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest


class KeptFromDeletion:
    """A ModelAdmin mixin. `kept_by(obj)` gives the lines saying what keeps
    `obj` (none: it may go); `goes_with` the models whose rows go with it,
    though the admin never deletes them on their own (so their delete
    permission is not asked for)."""

    goes_with: tuple[type[Model], ...] = ()

    def kept_by(self, obj: Any) -> list[str]:
        raise NotImplementedError

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        kept = [line for obj in objs for line in self.kept_by(obj)]
        if kept:
            # Refused anyway: no need to gather the rows a deletion would
            # take (for a pipeline, every one of its deals).
            return [], {}, set(), kept
        deleted, counts, perms_needed, protected = super().get_deleted_objects(  # type: ignore[misc]
            objs, request
        )
        for model in self.goes_with:
            perms_needed.discard(model._meta.verbose_name)
        return deleted, counts, perms_needed, protected
