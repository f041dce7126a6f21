"""Export and import of triggers in the admin, through django-import-export.

Exports stream: rows are read in chunks and written out as they come, so the
whole filtered set never sits in memory (XLSX goes through a temporary file).
Our formats are django-import-export's, with the values of ``TriggerResource``
(nulls stay null, times keep their offset) and two rules for spreadsheets:

- Text that a spreadsheet would run as a formula is escaped, as
  ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` asks, but on unless a project set it
  to False, and reversibly: in CSV such text gets a leading apostrophe, which the
  import removes again; an XLSX cell always holds text, never a formula.
- Characters that XLSX cannot hold (control characters, such as an ANSI colour
  code in an error message) become U+FFFD, as
  ``IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT`` does, so no row breaks a file.

An import is checked as a whole (``TriggerResource.import_data``) and its page
shows a summary and the rows with problems, never every row.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import tablib
from django.conf import settings as django_settings
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
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, JSON, XLSX
from import_export.results import RowResult

from ..conf import settings
from ..resources import ImportFileError, ImportResult, TriggerResource, is_blank, too_many_rows
from .templates import template_names

CHUNK = 2000
IMPORT_TEMPLATE = "djtriggers/admin/import_triggers.html"
# Text starting with one of these is a formula to a spreadsheet (OWASP's list for CSV).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formulae() -> bool:
    """django-import-export's setting, on for our export unless the project set it to False."""
    return getattr(django_settings, "IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT", True) is not False


def _looks_like_formula(text: str) -> bool:
    # Apostrophes before a formula count too, so that unescape() undoes escape() exactly.
    return text.lstrip("'")[:1] in FORMULA_STARTS


def escape(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet runs: an apostrophe before a formula."""
    return "'" + text if _looks_like_formula(text) else text


def unescape(text: str) -> str:
    """What ``escape`` was given."""
    return text[1:] if text[:1] == "'" and _looks_like_formula(text[1:]) else text


# --- formats ---------------------------------------------------------------------


class _Streamed:
    """A format that writes an export as the rows come."""

    def response(
        self, headers: list[str], rows: Iterable[list[Any]], filename: str
    ) -> HttpResponseBase:
        raise NotImplementedError


class TriggerCSV(_Streamed, CSV):
    def response(
        self, headers: list[str], rows: Iterable[list[Any]], filename: str
    ) -> HttpResponseBase:
        escaping = escape_formulae()

        def cell(value: Any) -> Any:
            if value is None:
                return ""
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str) and escaping:
                return escape(value)
            return value

        def lines() -> Iterator[str]:
            writer = csv.writer(_Line())
            yield writer.writerow(headers)
            for row in rows:
                yield writer.writerow([cell(value) for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response

    # Read as bytes: django-import-export reads text formats in text mode, which
    # turns a "\r\n" inside a quoted cell into "\n".
    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        text = io.StringIO(_decode(in_stream, self.encoding), newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise ImportFileError(_("The file is empty: it has no header row."))
            return _dataset(header, ([unescape(value) for value in row] for row in reader))
        except csv.Error as exc:
            raise ImportFileError(
                _("This is not a CSV file we can read (line %(line)d: %(error)s).")
                % {"line": reader.line_num, "error": exc}
            ) from None


class TriggerJSON(_Streamed, JSON):
    def response(
        self, headers: list[str], rows: Iterable[list[Any]], filename: str
    ) -> HttpResponseBase:
        def lines() -> Iterator[str]:
            yield "["
            separator = "\n"
            for row in rows:
                item = dict(zip(headers, row, strict=True))
                yield separator + json.dumps(item, cls=DjangoJSONEncoder)
                separator = ",\n"
            yield "\n]\n"

        response = StreamingHttpResponse(lines(), content_type="application/json")
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response

    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        text = _decode(in_stream, self.encoding)
        if not text.strip():
            raise ImportFileError(_("The file is empty."))
        try:
            items = json.loads(text, parse_constant=_not_a_number)
        except json.JSONDecodeError as exc:
            raise ImportFileError(
                _("This is not JSON (line %(line)d, column %(column)d: %(error)s).")
                % {"line": exc.lineno, "column": exc.colno, "error": exc.msg}
            ) from None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ImportFileError(
                _("The JSON to import is a list of objects, one per trigger, as the export writes.")
            )
        if not items:
            raise ImportFileError(_no_triggers())
        if len(items) > settings.IMPORT_MAX_ROWS:
            raise too_many_rows(settings.IMPORT_MAX_ROWS)
        headers = list(dict.fromkeys(key for item in items for key in item))
        return _dataset(headers, ([item.get(key) for key in headers] for item in items))


class TriggerXLSX(_Streamed, XLSX):
    def response(
        self, headers: list[str], rows: Iterable[list[Any]], filename: str
    ) -> HttpResponseBase:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)  # rows go to disk as they are added
        sheet = workbook.create_sheet(_("Triggers"))
        sheet.append(headers)
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
        spooled = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it)
        workbook.save(spooled)
        spooled.seek(0)
        return FileResponse(
            spooled, as_attachment=True, filename=filename, content_type=self.get_content_type()
        )

    def create_dataset(self, in_stream: bytes, **kwargs: Any) -> tablib.Dataset:
        from openpyxl import load_workbook
        from openpyxl.worksheet._read_only import ReadOnlyWorksheet

        try:
            book = load_workbook(io.BytesIO(in_stream), read_only=True, data_only=True)
        except Exception as exc:  # a file of any shape: zip, XML and openpyxl's own errors
            raise ImportFileError(_not_xlsx(exc)) from None
        try:
            sheet = book.active
            if not isinstance(sheet, ReadOnlyWorksheet):  # None, or a chart
                raise ImportFileError(_("The active sheet of the file holds no table."))
            rows = sheet.iter_rows(values_only=True)
            header = list(next(rows, None) or [])
            while header and header[-1] is None:  # columns a spreadsheet merely formatted
                header.pop()
            if not header:
                raise ImportFileError(_("The file is empty: its first sheet has no header row."))
            return _dataset(header, (list(row) for row in rows))
        except ImportFileError:
            raise
        except Exception as exc:
            raise ImportFileError(_not_xlsx(exc)) from None
        finally:
            book.close()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """A value as an XLSX cell: text stays text, whatever it starts with."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
    if not text.startswith(("=", "#")):
        return text
    # openpyxl writes "=..." as a formula and "#N/A" as an error value.
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell


class _Line:
    """A file-like object that hands back what csv.writer writes."""

    def write(self, value: str) -> str:
        return value


def _decode(in_stream: str | bytes, encoding: str | None) -> str:
    if isinstance(in_stream, str):
        return in_stream
    try:
        return in_stream.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(_not_utf8()) from None


def _no_triggers() -> str:
    return _("The file has no triggers: it has no rows after the header.")


def _not_utf8() -> str:
    return _("The file is not UTF-8 text: save it as CSV UTF-8 (or choose its format).")


def _not_xlsx(exc: Exception) -> str:
    return _(
        "This is not an XLSX file we can read (%(error)s): choose the file's format, "
        "or save it as XLSX again."
    ) % {"error": type(exc).__name__}


def _not_a_number(constant: str) -> NoReturn:
    raise ImportFileError(
        _("The file holds %(constant)s, which is not a value of any column.")
        % {"constant": constant}
    )


def _dataset(header: list[Any], rows: Iterable[list[Any]]) -> tablib.Dataset:
    """The rows as a Dataset of the header's width, refusing more rows than an import takes.

    Read one by one, so that a file far over the limit is refused without being read whole.
    """
    if all(is_blank(name) for name in header):
        raise ImportFileError(
            _("The first row is empty: it names the columns, such as trigger_type and source.")
        )
    width = len(header)
    dataset = tablib.Dataset(headers=header)
    filled = 0
    for number, row in enumerate(rows, 1):
        if len(row) > width:
            if not all(is_blank(value) for value in row[width:]):
                raise ImportFileError(
                    _("Row %(row)d has more values than the header row has columns (%(width)d).")
                    % {"row": number, "width": width}
                )
            row = row[:width]
        blank = all(is_blank(value) for value in row)
        filled += not blank
        if filled > settings.IMPORT_MAX_ROWS:
            raise too_many_rows(settings.IMPORT_MAX_ROWS)
        dataset.append(row + [None] * (width - len(row)))
    if not filled:
        raise ImportFileError(_no_triggers())
    return dataset


# --- the admin ---------------------------------------------------------------------


class TriggerImportExportMixin(ImportExportMixin):
    resource_classes = [TriggerResource]
    # Ours whatever the project's IMPORT_FORMATS / EXPORT_FORMATS say: they stream and escape.
    import_formats = [TriggerCSV, TriggerJSON, TriggerXLSX]
    export_formats = [TriggerCSV, TriggerJSON, TriggerXLSX]

    # Exporting shows what viewing shows; importing adds triggers.
    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.view_trigger")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("djtriggers.add_trigger")

    def _url(self, name: str) -> str:
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
            return HttpResponseRedirect(f"{self._url('changelist')}?e=1")

    def _do_file_export(
        self,
        file_format: Any,
        request: HttpRequest,
        queryset: QuerySet[Any],
        export_form: Any = None,
    ) -> HttpResponseBase:
        if not self.has_export_permission(request):
            raise PermissionDenied
        if not isinstance(file_format, _Streamed):
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
            return HttpResponseRedirect(self._url("import"))
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
            form.add_error("import_file", _not_utf8())
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
            return HttpResponseRedirect(self._url("import"))
        return super().process_result(result, request)

    def add_success_message(self, result: ImportResult, request: HttpRequest) -> None:
        count = result.totals[RowResult.IMPORT_TYPE_NEW]
        message = ngettext("Imported %(count)d trigger.", "Imported %(count)d triggers.", count) % {
            "count": count
        }
        self.message_user(request, message, messages.SUCCESS)
