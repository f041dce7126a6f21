"""Export and import of triggers in the admin, through django-import-export.

``TriggerImportExportMixin`` gives ``TriggerAdmin`` its export and import
buttons and pages, in our formats whatever the project's ``IMPORT_FORMATS`` and
``EXPORT_FORMATS`` say (``formats.py``: streamed, escaped for spreadsheets).
Exports read the filtered rows in chunks, so the whole set never sits in memory.
An import is checked as a whole (``TriggerResource.import_data``) and its page
shows a summary and the rows with problems, never every row.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin, ImportMixin
from import_export.results import RowResult

from ..conf import settings
from ..imports import ImportFileError
from ..resources import ImportResult, TriggerResource
from .formats import StreamedFormat, TriggerCSV, TriggerJSON, TriggerXLSX, not_utf8
from .templates import template_names

CHUNK = 2000
IMPORT_TEMPLATE = "djtriggers/admin/import_triggers.html"
EXPORT_TEMPLATE = "djtriggers/admin/export_triggers.html"


class TriggerImportExportMixin(ImportExportMixin):
    resource_classes = [TriggerResource]
    # Ours whatever the project's IMPORT_FORMATS / EXPORT_FORMATS say: they stream and escape.
    import_formats = [TriggerCSV, TriggerJSON, TriggerXLSX]
    export_formats = [TriggerCSV, TriggerJSON, TriggerXLSX]
    export_template_name = EXPORT_TEMPLATE

    # Exporting shows what viewing shows; importing adds triggers.
    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.view_trigger")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.add_trigger")

    # Not ``_url``: TriggerPageMixin has one, which would take this one's place.
    def _view_url(self, name: str) -> str:
        """The URL of one of this admin's views, on the admin site it is registered on."""
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}")

    # --- export ------------------------------------------------------------------

    def export_action(self, request: HttpRequest) -> HttpResponseBase:
        # A query string the list cannot filter by is the user's mistake, not a
        # server error: back to the list with a message, as the list itself does.
        try:
            return super().export_action(request)
        except IncorrectLookupParameters as exc:
            self.message_user(
                request, _("Nothing exported: %(error)s") % {"error": exc}, messages.ERROR
            )
            return HttpResponseRedirect(f"{self._view_url('changelist')}?e=1")

    def _do_file_export(
        self,
        file_format: Any,
        request: HttpRequest,
        queryset: QuerySet[Any],
        export_form: Any = None,
    ) -> HttpResponseBase:
        if not self.has_export_permission(request):
            raise PermissionDenied
        if not isinstance(file_format, StreamedFormat):
            return super()._do_file_export(file_format, request, queryset, export_form)
        resource = self.choose_export_resource_class(export_form, request)(
            **self.get_export_resource_kwargs(request)
        )
        selected = self.get_export_resource_fields_from_form(export_form)
        fields = resource.get_export_fields(selected)
        headers = resource.get_export_headers(selected_fields=selected)
        objects = queryset.order_by("pk").iterator(chunk_size=CHUNK)
        rows = ([resource.export_field(field, obj) for field in fields] for obj in objects)
        filename = self.get_export_filename(request, queryset, file_format)
        return file_format.response(headers, rows, filename)

    # --- import ------------------------------------------------------------------

    def get_import_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_import_context_data(**kwargs), "max_rows": settings.IMPORT_MAX_ROWS}

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        return self._import_page(super().import_action(request, **kwargs))

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        try:
            response = super().process_import(request, **kwargs)
        except ImportFileError as exc:  # the file changed its meaning since the preview
            self.message_user(
                request, _("Nothing was imported: %(problem)s") % {"problem": exc}, messages.ERROR
            )
            return HttpResponseRedirect(self._view_url("import"))
        return self._import_page(response)

    def _import_page(self, response: HttpResponseBase) -> HttpResponseBase:
        """Our import page, unless the ModelAdmin names another (``import_template_name``)."""
        ours = self.import_template_name == ImportMixin.import_template_name
        if ours and isinstance(response, TemplateResponse):
            response.template_name = template_names(self.opts, "import_triggers", IMPORT_TEMPLATE)
        return response

    def add_data_read_fail_error_to_form(self, form: Any, exc: Exception) -> None:
        if isinstance(exc, ImportFileError):
            form.add_error("import_file", str(exc))
        elif isinstance(exc, UnicodeDecodeError):
            form.add_error("import_file", not_utf8())
        else:
            super().add_data_read_fail_error_to_form(form, exc)

    def process_result(self, result: ImportResult, request: HttpRequest) -> HttpResponseBase:
        # The confirmed import found problems the preview did not (the trigger
        # types or the clock changed meanwhile): it wrote nothing.
        problems = result.file_problems + result.row_problems
        if problems:
            first = problems[0]
            where = (
                _("row %(row)d, %(column)s: ") % {"row": first.row, "column": first.column}
                if first.row
                else ""
            )
            message = ngettext(
                "Nothing was imported: %(count)d problem, %(where)s%(problem)s",
                "Nothing was imported: %(count)d problems, the first %(where)s%(problem)s",
                len(problems),
            ) % {"count": len(problems), "where": where, "problem": first.message}
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(self._view_url("import"))
        return super().process_result(result, request)

    def add_success_message(self, result: ImportResult, request: HttpRequest) -> None:
        count = result.totals[RowResult.IMPORT_TYPE_NEW]
        message = ngettext("Imported %(count)d trigger.", "Imported %(count)d triggers.", count) % {
            "count": count
        }
        self.message_user(request, message, messages.SUCCESS)
