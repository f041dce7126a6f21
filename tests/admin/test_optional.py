"""The admin's export and import only with django-import-export (djtriggers.admin.optional)."""

from __future__ import annotations

import importlib

from django.apps import apps

from djtriggers.admin import optional
from djtriggers.admin.importexport import TriggerImportExportMixin
from djtriggers.admin.options import TriggerAdmin


def test_import_export_installed__the_admin_gets_its_mixin():
    assert optional.ImportExport is TriggerImportExportMixin
    assert issubclass(TriggerAdmin, TriggerImportExportMixin)


def test_import_export_not_installed__a_mixin_that_adds_nothing(monkeypatch):
    monkeypatch.setattr(apps, "is_installed", lambda app: app != "import_export")
    try:
        without = importlib.reload(optional).ImportExport
    finally:
        monkeypatch.undo()
        importlib.reload(optional)
    assert without is not TriggerImportExportMixin
    assert [name for name in vars(without) if not name.startswith("__")] == []
    assert optional.ImportExport is TriggerImportExportMixin
