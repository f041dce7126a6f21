"""The admin's file formats (djtriggers.admin.formats): CSV, JSON and XLSX written as the rows
come, text a spreadsheet would run escaped, and files read back or refused with a clear message.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart
from openpyxl.styles import Font

from djtriggers.admin.formats import (
    StreamedFormat,
    TriggerCSV,
    TriggerJSON,
    TriggerXLSX,
    escape,
    unescape,
)
from djtriggers.imports import ImportFileError
from tests.admin.conftest import xlsx

# Closing a response (as the handler does) sends request_finished, which touches the database.
pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://example.com/x","click")'
COLOURED = "ValueError: \x1b[31mred\x1b[0m \x07"
HEADERS = ["trigger_type", "source", "successful", "number_of_tries"]


def written(fmt: Any, *rows: list[Any]) -> bytes:
    """The file ``fmt`` writes of ``rows`` under ``HEADERS``."""
    response = fmt.response(HEADERS, iter(rows), "triggers.x")
    try:
        assert response.streaming
        assert response["Content-Disposition"] == 'attachment; filename="triggers.x"'
        return b"".join(response.streaming_content)
    finally:
        response.close()


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(), newline="")))


def sheet_of(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content)).active


def read(fmt: Any, content: bytes) -> list[dict[str, Any]]:
    return fmt.create_dataset(content).dict


# --- escaping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=1", "''+1", "'x", "x=1", "", "'"]
)
def test_escape__is_undone_by_unescape(text):
    assert unescape(escape(text)) == text


def test_escape__an_apostrophe_before_a_formula_only():
    assert escape(FORMULA) == "'" + FORMULA
    assert escape("'=1") == "''=1"
    assert escape("it's =1") == "it's =1"
    assert unescape("'plain") == "'plain"


def test_streamed_format__is_any_format_that_writes_a_response():
    assert all(isinstance(fmt(), StreamedFormat) for fmt in (TriggerCSV, TriggerJSON, TriggerXLSX))
    assert not isinstance(object(), StreamedFormat)


# --- writing -----------------------------------------------------------------------


def test_csv__nulls_are_empty_cells_and_booleans_true_or_false():
    content = written(TriggerCSV(), ["noop", None, True, 3], ["noop", "a", False, 0])
    assert csv_rows(content) == [HEADERS, ["noop", "", "true", "3"], ["noop", "a", "false", "0"]]


def test_csv__formula_like_text_is_escaped_by_default(settings):
    del settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT  # a project that did not set it
    (_header, row) = csv_rows(written(TriggerCSV(), ["noop", FORMULA, None, 0]))
    assert row[1] == "'" + FORMULA


def test_csv__a_project_may_turn_escaping_off(settings):
    settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
    (_header, row) = csv_rows(written(TriggerCSV(), ["noop", FORMULA, None, 0]))
    assert row[1] == FORMULA


def test_json__a_list_of_objects_with_text_as_it_is():
    content = written(TriggerJSON(), ["noop", FORMULA, None, 1], ["noop", COLOURED, True, 0])
    assert json.loads(content) == [
        {"trigger_type": "noop", "source": FORMULA, "successful": None, "number_of_tries": 1},
        {"trigger_type": "noop", "source": COLOURED, "successful": True, "number_of_tries": 0},
    ]
    assert json.loads(written(TriggerJSON())) == []


@pytest.mark.parametrize("escaping", [True, False])
def test_xlsx__text_is_never_a_formula_nor_an_error_value(settings, escaping):
    settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = escaping
    sheet = sheet_of(written(TriggerXLSX(), ["noop", FORMULA, None, 2], ["#N/A", "+1", True, 0]))
    cells = [[(cell.data_type, cell.value) for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert cells == [
        [("s", "noop"), ("s", FORMULA), ("n", None), ("n", 2)],
        [("s", "#N/A"), ("s", "+1"), ("b", True), ("n", 0)],
    ]


def test_xlsx__control_characters_become_replacement_characters():
    sheet = sheet_of(written(TriggerXLSX(), ["noop", COLOURED, None, 0]))
    assert sheet.cell(2, 2).value == "ValueError: \ufffd[31mred\ufffd[0m \ufffd"


# --- reading -----------------------------------------------------------------------


def test_csv__reads_escaped_text_back_and_line_breaks_in_a_cell_as_they_were():
    content = b"trigger_type,source\r\nnoop,'=1+1\r\nnoop,\"a\r\nb\"\r\nnoop,'plain\r\n"
    assert [row["source"] for row in read(TriggerCSV(), content)] == ["=1+1", "a\r\nb", "'plain"]


def test_csv__a_byte_order_mark_is_not_part_of_the_first_column():
    rows = read(TriggerCSV(), "\ufefftrigger_type\nnoop\n".encode())
    assert rows == [{"trigger_type": "noop"}]


def test_json__reads_the_columns_of_every_object():
    content = b'[{"trigger_type": "noop"}, {"source": "a", "trigger_type": "noop"}]'
    assert read(TriggerJSON(), content) == [
        {"trigger_type": "noop", "source": None},
        {"trigger_type": "noop", "source": "a"},
    ]
    assert TriggerJSON().create_dataset('[{"trigger_type": "noop"}]').dict == [
        {"trigger_type": "noop"}
    ]


def test_xlsx__columns_a_spreadsheet_merely_formatted_are_not_columns():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["trigger_type", "source"])
    sheet.append(["noop", "a"])
    sheet.cell(1, 4).font = sheet.cell(2, 5).font = Font(bold=True)  # empty, but styled
    out = io.BytesIO()
    workbook.save(out)
    assert read(TriggerXLSX(), out.getvalue()) == [{"trigger_type": "noop", "source": "a"}]


def chart_sheet() -> bytes:
    """A workbook that opens on a chart."""
    workbook = Workbook()
    workbook.active.append(["trigger_type"])
    charts = workbook.create_chartsheet()
    charts.add_chart(BarChart())
    workbook.active = charts
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def broken(sheet: bytes, replace: bytes, by: bytes) -> bytes:
    """``sheet`` (an XLSX file) with ``replace`` by ``by`` in the XML of its sheet."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(sheet)) as original, zipfile.ZipFile(out, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            copy.writestr(item, data.replace(replace, by) if "sheet1" in item.filename else data)
    return out.getvalue()


NOT_XML = broken(xlsx(["trigger_type"], ["noop"]), b"<worksheet", b"<worksheet<")
NOT_A_NUMBER = broken(xlsx(["trigger_type", "number_of_tries"], ["noop", 1]), b"<v>1<", b"<v>x<")


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        (TriggerXLSX, b"\x00\x01 not a spreadsheet", "This is not an XLSX file we can read"),
        (TriggerXLSX, xlsx(), "The file is empty: its first sheet has no header row"),
        (TriggerXLSX, xlsx(["trigger_type"]), "The file has no triggers"),
        (TriggerXLSX, chart_sheet(), "The active sheet of the file holds no table"),
        (TriggerXLSX, NOT_XML, "This is not an XLSX file we can read (ParseError)"),
        (TriggerXLSX, NOT_A_NUMBER, "This is not an XLSX file we can read (ValueError)"),
        (TriggerCSV, b"\xef\xbb\xbf", "The file is empty: it has no header row"),
        (TriggerCSV, b"\n\n", "The first row is empty: it names the columns"),
        (TriggerCSV, b"trigger_type,source\n", "The file has no triggers"),
        (TriggerCSV, b"trigger_type\nnoop,extra\n", "Row 1 has more values than the header row"),
        (TriggerCSV, "trigger_type\nnoöp\n".encode("latin-1"), "The file is not UTF-8 text"),
        (TriggerCSV, b'trigger_type\n"noop\n', "This is not a CSV file we can read (line 2"),
        (TriggerJSON, b" \n", "The file is empty"),
        (TriggerJSON, b"[]", "The file has no triggers"),
        (TriggerJSON, b"{trigger_type: 1}", "This is not JSON (line 1, column 2"),
        (TriggerJSON, b'{"trigger_type": "noop"}', "a list of objects, one per trigger"),
        (TriggerJSON, b'["noop"]', "a list of objects, one per trigger"),
        (TriggerJSON, b'[{"trigger_type": "noop", "number_of_tries": NaN}]', "holds NaN"),
        (TriggerJSON, b'[{"trigger_type": "noop", "source": -Infinity}]', "holds -Infinity"),
        (TriggerJSON, b"[{}]", "The first row is empty: it names the columns"),
    ],
)
def test_read__a_file_it_cannot_import_is_refused_with_a_clear_message(fmt, content, message):
    with pytest.raises(ImportFileError) as refused:
        fmt().create_dataset(content)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (TriggerCSV, b"trigger_type\n" + b"noop\n" * 4),
        (TriggerJSON, json.dumps([{"trigger_type": "noop"}] * 4).encode()),
        (TriggerXLSX, xlsx(["trigger_type"], *[["noop"]] * 4)),
    ],
)
def test_read__more_rows_than_the_limit_are_refused(settings, fmt, content):
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 3
    with pytest.raises(ImportFileError, match="more than 3 rows: an import takes at most 3"):
        fmt().create_dataset(content)
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 4
    assert len(fmt().create_dataset(content)) == 4
