"""Deals in the admin: a deal's own fields are edited through the same service
as on the deal page; what moves and history own is shown, never changed.

A move writes a deal's stage, status and dates together with a stage event,
its clocks and a new version (`services.move_deal`). A form that set them
directly would leave the history, the clocks and other people's open copies
behind, so the admin shows them read-only and adds or deletes no deal.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from dealgate.errors import DealgateError

from . import services
from .models import Activity, Deal, Organization, Person, Product, StageEvent

admin.site.register(Organization)
admin.site.register(Person)
admin.site.register(Product)


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
            )
        except DealgateError as refused:
            name = (refused.field or "").partition(".")[0]
            self.add_error(name if name in EDITED else None, refused.message)

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
        (None, {"fields": (*EDITED, "version")}),
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
    """The append-only history of moves."""

    list_display = ("deal", "from_stage", "to_stage", "to_status", "at", "by")
    raw_id_fields = ("deal",)


@admin.register(Activity)
class ActivityAdmin(ViewOnlyAdmin):
    """What happened with the buyer, as criteria read it; a task's next-step
    clock runs until the task is completed on the deal page."""

    list_display = ("deal", "kind", "tag", "subject", "done", "at")
    list_filter = ("kind", "done")
    raw_id_fields = ("deal",)
