"""The admin's export and import, when django-import-export is installed.

The core needs nothing but Django: without ``"import_export"`` in
``INSTALLED_APPS`` (``pip install "django-triggers[dashboard]"``) the admin has
no export and import buttons, and nothing imports django-import-export.
"""

from typing import TYPE_CHECKING

from django.apps import apps

if TYPE_CHECKING or apps.is_installed("import_export"):
    from .importexport import TriggerImportExportMixin as ImportExport
else:

    class ImportExport:
        """Adds nothing: django-import-export is not installed."""


__all__ = ["ImportExport"]
