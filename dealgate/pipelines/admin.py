from django.contrib import admin

from .models import Handoff, Pipeline, Stage


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    # A stage is retired, and its deals moved on, by `pipeline apply` or the
    # builder; set here, its open deals would leave the board unmoved.
    readonly_fields = ("retired_at", "replaced_by")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    inlines = [StageInline]


admin.site.register(Handoff)
