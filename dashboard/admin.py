from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from .models import Dashboard

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Dashboard]
else:  # not subscriptable at run time
    _ModelAdmin = admin.ModelAdmin


@admin.register(Dashboard)
class DashboardLink(_ModelAdmin):
    """Puts the dashboard on the admin index; it is not a list of anything.

    Registered on the default admin site; ``other_site.register(Dashboard,
    DashboardLink)`` puts it on another. The dashboard is not part of any admin
    site: the link leads to wherever ``dashboard.urls`` is included.
    """

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
        # As ModelAdmin.changelist_view, which this replaces, checks.
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("dashboard:index"))
