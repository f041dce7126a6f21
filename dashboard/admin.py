from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from .models import Dashboard


@admin.register(Dashboard)
class DashboardLink(admin.ModelAdmin):
    """Puts the dashboard on the admin index; it is not a list of anything."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.view_trigger")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return HttpResponseRedirect(reverse("dashboard:index"))
