"""Export and import of triggers in the admin (django-import-export)."""

from __future__ import annotations


class TriggerImportExportMixin:
    """Placeholder: filled in by the import/export work."""
