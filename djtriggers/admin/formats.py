"""The admin's file formats: django-import-export's CSV, JSON and XLSX, streamed and escaped.

Exports stream: rows are written out as they come, so the whole filtered set
never sits in memory (XLSX goes through a temporary file). The values are
``TriggerResource``'s (nulls stay null, times keep their offset), with two rules
for spreadsheets:

- Text that a spreadsheet would run as a formula is escaped, as
  ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` asks, but on unless a project set it
  to False, and reversibly: in CSV such text gets a leading apostrophe, which the
  import removes again; an XLSX cell always holds text, never a formula.
- Characters that XLSX cannot hold (control characters, such as an ANSI colour
  code in an error message) become U+FFFD, as
  ``IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT`` does, so no row breaks a file.

Reading a file gives a Dataset of its rows (``imports.read_table``) or raises
``ImportFileError`` with a message that says what is wrong and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn, Protocol, runtime_checkable

import tablib
from django.conf import settings as django_settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from import_export.formats.base_formats import CSV, JSON, XLSX

from ..conf import settings
from ..imports import ImportFileError, no_triggers, read_table, too_many_rows

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


@runtime_checkable
class StreamedFormat(Protocol):
    """A format that writes an export as the rows come (the admin falls back to
    django-import-export's export, in memory, for a format without ``response``)."""

    def response(
        self, headers: list[str], rows: Iterable[list[Any]], filename: str
    ) -> HttpResponseBase: ...


class TriggerCSV(CSV):
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
        # Never None: attachment=True always gives a header.
        response["Content-Disposition"] = content_disposition_header(True, filename) or ""
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


class TriggerJSON(JSON):
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
        # Never None: attachment=True always gives a header.
        response["Content-Disposition"] = content_disposition_header(True, filename) or ""
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
            raise ImportFileError(no_triggers())
        if len(items) > settings.IMPORT_MAX_ROWS:
            raise too_many_rows(settings.IMPORT_MAX_ROWS)
        headers = list(dict.fromkeys(key for item in items for key in item))
        return _dataset(headers, ([item.get(key) for key in headers] for item in items))


class TriggerXLSX(XLSX):
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
            return _dataset(header, rows)
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


def _dataset(header: list[Any], rows: Iterable[Iterable[Any]]) -> tablib.Dataset:
    dataset = tablib.Dataset(headers=header)
    dataset.extend(read_table(header, rows))
    return dataset


def _decode(in_stream: str | bytes, encoding: str | None) -> str:
    if isinstance(in_stream, str):
        return in_stream
    try:
        return in_stream.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(not_utf8()) from None


def not_utf8() -> str:
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
