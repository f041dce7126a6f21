"""Our ``TriggerAdmin`` at /admin/ and the baseline, a plain ``ModelAdmin``, at /plain/."""

from django.contrib import admin
from django.urls import path

from djtriggers.models import Trigger


class PlainTriggerAdmin(admin.ModelAdmin):
    """What a project writes without djtriggers' admin: model fields, stock filters and counts.

    ``search_fields`` match ours, so that the search page compares the same search.
    """

    list_display = [
        "id",
        "trigger_type",
        "source",
        "date_received",
        "date_processed",
        "number_of_tries",
    ]
    list_filter = ["state", "trigger_type"]
    search_fields = ["source", "last_error"]


plain_site = admin.AdminSite(name="plain")
plain_site.register(Trigger, PlainTriggerAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("plain/", plain_site.urls),
]
