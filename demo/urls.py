from django.contrib import admin
from django.urls import include, path

from dashboard.views import health_check

urlpatterns = [
    path("admin/", admin.site.urls),
    path("triggers/", include("dashboard.urls")),
    # The health check without a login, for a load balancer or an uptime checker.
    path("healthz/", health_check),
]
