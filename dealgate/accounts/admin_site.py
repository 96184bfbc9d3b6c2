"""Django's admin site, its sign-in limited as the login page's is, and every
model's list refusing a filter by a number no column can hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Field, Model
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse

from .forms import AdminSignInForm
from .views import refused_if_locked

# Lookups whose value is compared as the field's own number: `in` and `range`
# take several, comma-separated, as the admin splits them.
_NUMBER_LOOKUPS = {"exact", "iexact", "gt", "gte", "lt", "lte", "in", "range"}


def out_of_range(model: type[Model], key: str, values: Iterable[str]) -> str | None:
    """The first of `values` that filtering `model` by `key` (as a query
    string names it: `owner`, `stage__id__exact`, `id__in`) compares with an
    integer column, or an id it refers to, that the column cannot hold on
    this database; None if there is none. A value that is no number at all is
    left to Django, which refuses it already."""
    field, lookups = _field_of(model, key)
    if field is None or not set(lookups) <= _NUMBER_LOOKUPS:
        return None
    if field.is_relation and field.target_field is not None:
        field = field.target_field
    kind = field.get_internal_type()
    if kind not in BaseDatabaseOperations.integer_field_ranges:
        return None  # no integer column
    low, high = connection.ops.integer_field_range(kind)
    several = bool(lookups) and lookups[-1] in ("in", "range")
    for value in values:
        for part in value.split(",") if several else [value]:
            try:
                number = int(part)
            except ValueError:
                continue
            if (low is not None and number < low) or (
                high is not None and number > high
            ):
                return part
    return None


def _field_of(model: type[Model], key: str) -> tuple[Field | None, list[str]]:
    """The field `key` ends at, through relations, and the lookups after it."""
    parts = key.split(LOOKUP_SEP)
    opts = model._meta
    field = None
    for at, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return field, parts[at:]
        if at + 1 < len(parts) and field.is_relation and field.related_model:
            opts = field.related_model._meta
        elif at + 1 < len(parts):
            return field, parts[at + 1 :]
    return field, []


class NumbersInRange(ChangeList):
    """A model's list refusing, as Django refuses `?owner=abc` (back to the
    list with `?e=1`), a filter by a number its column cannot hold, such as
    `?owner=99999999999999999999`: SQLite cannot bind it (OverflowError) and
    PostgreSQL compares it with no bigint (DataError). Every query-string
    filter is checked, list_filter's and any other field lookup alike."""

    def get_filters(self, request: HttpRequest) -> Any:
        for key, values in self.get_filters_params().items():
            wrong = out_of_range(self.model, key, values)
            if wrong is not None:
                raise IncorrectLookupParameters(
                    f"{key}: {wrong} is out of range for its column"
                )
        return super().get_filters(request)


class CheckedLists:
    """Mixed into every ModelAdmin the site registers (DealgateAdminSite)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        changelist = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        if issubclass(changelist, NumbersInRange):
            return changelist
        return type(changelist.__name__, (NumbersInRange, changelist), {})


class DealgateAdminSite(admin.AdminSite):
    login_form = AdminSignInForm

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().login(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        return refused_if_locked(response, context.get("form"))

    def register(
        self,
        model_or_iterable: Any,
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        """Register as Django does, every model's admin with checked lists."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CheckedLists):
            admin_class = type(admin_class.__name__, (CheckedLists, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)
