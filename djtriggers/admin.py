from django.contrib import admin

from .models import Trigger


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["id", "trigger_type", "source", "status", "process_after", "number_of_tries"]
    list_filter = ["state", "trigger_type"]
    search_fields = ["source", "last_error"]
    readonly_fields = ["state", "locked_by", "locked_until", "last_error"]
