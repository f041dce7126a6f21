"""Where the admin looks for our pages' templates (djtriggers.admin.templates)."""

from __future__ import annotations

from djtriggers.admin.templates import template_names
from djtriggers.models import Trigger
from tests.testapp.models import PayBill


def test_template_names__the_models_the_apps_then_ours():
    assert template_names(Trigger._meta, "change_form", "djtriggers/admin/x.html") == [
        "admin/djtriggers/trigger/change_form.html",
        "admin/djtriggers/change_form.html",
        "djtriggers/admin/x.html",
    ]


def test_template_names__of_a_subclass_in_its_own_app():
    names = template_names(PayBill._meta, "action_confirmation", "ours.html")
    assert names[:2] == [
        "admin/testapp/paybill/action_confirmation.html",
        "admin/testapp/action_confirmation.html",
    ]
