"""Deals in the admin: a deal's own fields are edited through the same service
as on the deal page; what moves and history own is shown, never changed.

A move writes a deal's stage, status and dates together with a stage event,
its clocks and a new version (`services.move_deal`). A form that set them
directly would leave the history, the clocks and other people's open copies
behind, so the admin shows them read-only and adds or deletes no deal.

For the same reason an organization, product or person that deals point at
is not deleted here: the database would blank it on every deal behind the
deal service. An organization's name follows the deal page's rule
(`core.names`): tidied, something visible, and no second organization under
one name key.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from dealgate.core.names import code_points, name_key, tidy_name
from dealgate.core.text import CONTROL_OR_BREAK, agreeing, counted
from dealgate.errors import DealgateError

from . import services
from .models import (
    TEXT_LIMITS,
    Activity,
    Deal,
    Organization,
    Person,
    Product,
    StageEvent,
)

# How many of the deals that keep a record from deletion are named, each.
DEALS_NAMED = 10


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows the services write as history or keep in step with it (stage
    events, activities, clocks): the admin shows them and changes none."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The deal's fields an edit may change, and the key `services.update_deal`
# takes each under: the owner by username, so that the responsible person
# and the running clocks follow a new owner as they do on the deal page.
EDITED = {
    "title": "title",
    "value": "value",
    "currency": "currency",
    "expected_close_date": "expected_close_date",
    "notes": "notes",
    "custom": "custom",
    "checklist": "checklist",
    "owner": "owner",
    "organization": "organization_id",
    "contact": "contact_id",
    "product": "product_id",
}
# Written only by moves, imports and the creation of a deal; the version too,
# which the form carries hidden as the one the page was loaded at.
KEPT_BY_MOVES = (
    "pipeline",
    "stage",
    "status",
    "responsible",
    "stage_entered_at",
    "closed_at",
    "loss_reason",
    "loss_note",
    "created_at",
    "source",
    "external_id",
)


class DealAdminForm(forms.ModelForm):
    """Saves through `services.update_deal` as the last step of validation.

    The admin shows a refusal beside its field only from the form's
    validation, so the edit is made there, once every other check passed,
    inside the transaction the admin holds for the whole request;
    `DealAdmin.save_model` then has nothing left to write. `version` is the
    one the page was loaded at: a deal moved or edited since is a conflict,
    as on the deal page.
    """

    version = forms.IntegerField(widget=forms.HiddenInput)
    # Why a closed deal is corrected: its value, currency, close date, owner,
    # organization or product need one, kept with the record of the edit.
    reason = forms.CharField(
        required=False,
        max_length=TEXT_LIMITS["reason"],
        label="Reason for correcting a closed deal",
        help_text="Needed to change a won or lost deal's value, currency, "
        "expected close date, owner, organization or product; recorded with "
        "the edit in its activities.",
    )

    class Meta:
        model = Deal
        fields = tuple(EDITED)

    by: Any = None  # the signed-in person; set by DealAdmin.get_form

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self.errors:
            self._save_through_service()

    def _save_through_service(self) -> None:
        cleaned = self.cleaned_data
        changes = {
            EDITED[name]: self._service_value(name, cleaned[name])
            for name in self.changed_data
            if name in EDITED
        }
        try:
            services.update_deal(
                self.instance.pk,
                changes,
                by=self.by,
                expected_version=cleaned["version"],
                reason=cleaned.get("reason") or "",
            )
        except DealgateError as refused:
            name = (refused.field or "").partition(".")[0]
            shown = name in EDITED or name == "reason"
            self.add_error(name if shown else None, refused.message)

    @staticmethod
    def _service_value(name: str, value: Any) -> Any:
        if name == "owner":
            return value.username if value else None
        if name in ("organization", "contact", "product"):
            return value.pk if value else None
        return value


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    form = DealAdminForm
    list_display = ("title", "organization", "stage", "status", "owner", "value")
    list_filter = ("status", "pipeline", "stage")
    search_fields = ("title", "external_id")
    raw_id_fields = ("organization", "contact", "product")
    fieldsets = (
        (None, {"fields": (*EDITED, "reason", "version")}),
        (
            "Kept by moves (change the stage or status on the deal page)",
            {"fields": KEPT_BY_MOVES},
        ),
    )
    readonly_fields = KEPT_BY_MOVES

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"by": request.user})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a deal starts with its history: New deal, a lead, an import

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deal that went nowhere is lost, with its reason

    def save_model(
        self, request: HttpRequest, obj: Deal, form: forms.ModelForm, change: bool
    ) -> None:
        # The form saved it through the service; show what is stored now.
        obj.refresh_from_db()


@admin.register(StageEvent)
class StageEventAdmin(ViewOnlyAdmin):
    """The append-only history of moves. Both statuses show, so a closed
    deal moved between stages by a redesign (lost before and after) does not
    read as lost then."""

    list_display = (
        "deal",
        "from_stage",
        "to_stage",
        "from_status",
        "to_status",
        "at",
        "by",
        "source",
    )
    raw_id_fields = ("deal",)


@admin.register(Activity)
class ActivityAdmin(ViewOnlyAdmin):
    """What happened with the buyer, as criteria read it; a task's next-step
    clock runs until the task is completed on the deal page."""

    list_display = ("deal", "kind", "tag", "subject", "done", "at")
    list_filter = ("kind", "done")
    raw_id_fields = ("deal",)


class KeptByDealsAdmin(admin.ModelAdmin):
    """A record deals point at (through `deal_field`) is not deleted: the
    confirm page, and the "delete selected" action, name how many deals and
    which, and deletion is refused until each deal is given another one on
    its page, where the change is versioned and logged."""

    deal_field = ""

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        return deleted, counts, perms_needed, [*protected, *self._kept_by(objs)]

    def _kept_by(self, objs: list[Model] | QuerySet) -> list[str]:
        """For each of `objs` that deals keep: a line saying how many, one
        per deal for the first DEALS_NAMED of them, then how many more."""
        lines = []
        for obj in objs:
            deals = Deal.objects.filter(**{self.deal_field: obj}).order_by("pk")
            total = deals.count()
            if not total:
                continue
            named = deals.only("pk", "title", "status")[:DEALS_NAMED]
            point = agreeing(total, "points", "point")
            lines.append(
                f"{counted(total, 'deal')} {point} at {obj}, so it is kept; an "
                f"open deal may be given another {self.deal_field} on its deal page"
            )
            lines.extend(
                f"deal #{deal.pk} {deal.title!r} ({deal.status}) has {obj} "
                f"as its {self.deal_field}"
                for deal in named
            )
            if total > DEALS_NAMED:
                more = counted(total - DEALS_NAMED, "more deal")
                lines.append(f"and {more} with {obj}")
        return lines


class OrganizationAdminForm(forms.ModelForm):
    """An organization's name as the deal page takes one: tidied
    (`names.tidy_name`), on one line, with something visible in it, and not
    under the name key (`names.name_key`) of another organization."""

    class Meta:
        model = Organization
        fields = (
            "name",
            "sector",
            "year_established",
            "revenue_musd",
            "employees",
            "location",
            "parent",
        )

    def clean_name(self) -> str:
        typed = self.cleaned_data["name"]
        if CONTROL_OR_BREAK.search(typed):
            raise forms.ValidationError(
                "A name is one line, without line breaks or control characters."
            )
        name = tidy_name(typed)
        if not name:
            raise forms.ValidationError(
                f"The name holds no visible characters ({code_points(typed)}); "
                "give a name."
            )
        key = name_key(name)
        # Held to the end of the admin's transaction on PostgreSQL, as the
        # deal page holds it, so two requests cannot make one name twice.
        services.lock_organization_name(key)
        others = Organization.objects.filter(name_key=key).order_by("pk")
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        other = others.first()
        if other is not None:
            raise forms.ValidationError(
                f"Organization #{other.pk} {other.name!r} already has this name "
                "(spacing, case and invisible characters aside)."
            )
        return name


@admin.register(Organization)
class OrganizationAdmin(KeptByDealsAdmin):
    form = OrganizationAdminForm
    deal_field = "organization"
    list_display = ("name", "sector", "location", "parent")
    search_fields = ("name",)
    raw_id_fields = ("parent",)


@admin.register(Product)
class ProductAdmin(KeptByDealsAdmin):
    deal_field = "product"
    list_display = ("name", "series", "list_price")
    search_fields = ("name",)


@admin.register(Person)
class PersonAdmin(KeptByDealsAdmin):
    deal_field = "contact"
    list_display = ("name", "email", "organization")
    search_fields = ("name", "email")
    raw_id_fields = ("organization",)
