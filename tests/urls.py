from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import include, path

from dashboard.admin import DashboardLink
from dashboard.models import Dashboard
from djtriggers.admin import TriggerAdmin
from djtriggers.models import Trigger
from tests.testapp.admin import UserWithTriggersAdmin
from tests.testapp.models import PayBill

# A second admin site with the operators' admin on it, as a project with two
# admins has it: nothing on it may lead to the default site (tests/admin/test_sites.py).
other_site = admin.AdminSite(name="otheradmin")
other_site.register(Trigger, TriggerAdmin)
other_site.register(PayBill, TriggerAdmin)
other_site.register(User, UserWithTriggersAdmin)
other_site.register(Dashboard, DashboardLink)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("otheradmin/", other_site.urls),
    path("triggers/", include("dashboard.urls")),
]
