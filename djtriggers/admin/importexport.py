"""Export and import of triggers in the admin (django-import-export).

Exports stream: rows are read in chunks and written out as they come, so the
whole filtered set never sits in memory (XLSX goes through a temporary file).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import reverse
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, JSON, XLSX

from ..resources import TriggerResource

CHUNK = 2000


class TriggerImportExportMixin(ImportExportMixin):
    resource_classes = [TriggerResource]
    formats = [CSV, JSON, XLSX]

    def export_action(self, request: HttpRequest) -> HttpResponseBase:
        # A query string the list cannot filter by is the user's mistake, not a
        # server error: back to the list with a message, as the list itself does.
        try:
            return super().export_action(request)
        except IncorrectLookupParameters as exc:
            self.message_user(request, f"Nothing exported: {exc}", messages.ERROR)
            opts = self.model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?e=1")

    # Exporting shows what viewing shows; importing adds triggers.
    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.view_trigger")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.add_trigger")

    def _do_file_export(
        self,
        file_format: Any,
        request: HttpRequest,
        queryset: QuerySet[Any],
        export_form: Any = None,
    ) -> HttpResponseBase:
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource = self.choose_export_resource_class(export_form, request)(
            **self.get_export_resource_kwargs(request)
        )
        selected = self.get_export_resource_fields_from_form(export_form)
        headers = resource.get_export_headers(selected_fields=selected)
        extension = file_format.get_extension()
        native = extension == "json"  # JSON keeps numbers and nulls; the others get text
        objects = queryset.order_by("pk").iterator(chunk_size=CHUNK)
        rows = (
            resource.export_resource(obj, selected_fields=selected, force_native_type=native)
            for obj in objects
        )
        filename = self.get_export_filename(request, queryset, file_format)
        if extension == "csv":
            response: HttpResponseBase = StreamingHttpResponse(
                _csv(headers, rows), content_type="text/csv; charset=utf-8"
            )
        elif extension == "json":
            response = StreamingHttpResponse(_json(headers, rows), content_type="application/json")
        elif extension == "xlsx":
            return FileResponse(
                _xlsx(headers, rows),
                as_attachment=True,
                filename=filename,
                content_type=file_format.get_content_type(),
            )
        else:
            return super()._do_file_export(file_format, request, queryset, export_form)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class _Line:
    """A file-like object that hands back what csv.writer writes."""

    def write(self, value: str) -> str:
        return value


def _csv(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(headers)
    for row in rows:
        yield writer.writerow(row)


def _json(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    yield "["
    separator = "\n"
    for row in rows:
        yield separator + json.dumps(dict(zip(headers, row, strict=True)), cls=DjangoJSONEncoder)
        separator = ",\n"
    yield "\n]\n"


def _cell(value: Any) -> Any:
    """A value an XLSX cell can hold: control characters (an ANSI colour code in an
    error message, say) make openpyxl refuse the whole file, so they are dropped."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return ""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _xlsx(headers: list[str], rows: Iterable[list[Any]]) -> Any:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # rows go to disk as they are added
    sheet = workbook.create_sheet("Triggers")
    sheet.append(headers)
    for row in rows:
        sheet.append([_cell(value) for value in row])
    spooled = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it)
    workbook.save(spooled)
    spooled.seek(0)
    return spooled
