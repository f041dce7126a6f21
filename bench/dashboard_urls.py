"""The admin at /admin/ (the dashboard links to it) and the dashboard at /dashboard/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
]
