"""A file of triggers as a whole (djtriggers.imports): its columns, its size, what refuses it."""

from __future__ import annotations

import pytest
from django.utils import translation

from djtriggers.imports import (
    COLUMNS,
    ImportFileError,
    check_columns,
    is_empty,
    read_table,
    rows_by_column,
    too_many_rows,
)

# --- the header --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (["source"], "The file has no trigger_type column"),
        (["trigger_type", "process_afterr"], "Unknown column 'process_afterr'. The columns are:"),
        (["trigger_type", "a", "b"], "Unknown columns 'a', 'b'. The columns are: id, trigger_type"),
        (["trigger_type;source"], "Is the file separated by semicolons?"),
        (["trigger_type", "source", "source"], "The columns source appear more than once"),
    ],
)
def test_check_columns__says_what_is_wrong_with_the_header(headers, message):
    assert any(message in problem for problem in check_columns(headers))


def test_check_columns__every_column_of_the_export_in_any_order_is_fine():
    assert check_columns(list(reversed(COLUMNS))) == []
    assert check_columns(["trigger_type"]) == []


def test_rows_by_column__each_row_as_a_dict_of_its_named_cells():
    rows, problems = rows_by_column([" trigger_type ", "source"], [("noop", "a"), ("noop",)])
    assert problems == []
    assert rows == [
        {"trigger_type": "noop", "source": "a"},
        {"trigger_type": "noop", "source": None},  # a short row: the rest is empty
    ]


def test_rows_by_column__a_nameless_column_is_dropped_when_empty_and_a_problem_otherwise():
    rows, problems = rows_by_column(["trigger_type", None, " "], [("noop", None, "")])
    assert (rows, problems) == ([{"trigger_type": "noop"}], [])
    _rows, problems = rows_by_column(["trigger_type", ""], [("noop", "x")])
    assert problems == ["A column without a name in the header row holds values: name it."]


def test_rows_by_column__the_columns_problems_come_with_the_rows():
    _rows, problems = rows_by_column(["sauce"], [("x",)])
    assert problems == check_columns(["sauce"])


# --- the table ---------------------------------------------------------------------


def test_read_table__every_row_as_wide_as_the_header():
    rows = read_table(["trigger_type", "source"], iter([["noop"], ("noop", "a", None, " ")]))
    assert rows == [["noop", None], ["noop", "a"]]


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (["", None], [["noop"]], "The first row is empty: it names the columns"),
        ([], [], "The first row is empty"),
        (["trigger_type"], [["noop"], ["noop", "extra"]], "Row 2 has more values than the header"),
        (["trigger_type"], [], "The file has no triggers: it has no rows after the header."),
        (["trigger_type"], [[""], [None, " "]], "The file has no triggers"),
    ],
)
def test_read_table__a_file_it_cannot_import_is_refused_with_a_clear_message(header, rows, message):
    with pytest.raises(ImportFileError, match=message):
        read_table(header, rows)


def test_read_table__more_rows_than_the_limit_are_refused_without_reading_on(settings):
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 3
    read = []

    def rows():
        for number in range(1_000_000):
            read.append(number)
            yield ["noop"]

    with pytest.raises(ImportFileError, match="more than 3 rows: an import takes at most 3"):
        read_table(["trigger_type"], rows())
    assert len(read) == 4
    # Empty rows do not count.
    assert len(read_table(["trigger_type"], [["noop"]] * 3 + [[""]] * 5)) == 8


def test_too_many_rows__the_limit_grouped_and_the_setting_named():
    message = str(too_many_rows(10_000))
    assert message == (
        "The file has more than 10,000 rows: an import takes at most 10,000 "
        "(DJTRIGGERS_IMPORT_MAX_ROWS). Split the file, or raise the setting."
    )
    assert "more than 1 row:" in str(too_many_rows(1))
    with translation.override("nl"):
        assert "10.000" in str(too_many_rows(10_000))


def test_is_empty__every_cell_blank():
    assert is_empty([None, "", "  "])
    assert is_empty([])
    assert not is_empty([None, 0])
    assert not is_empty({"source": "x"}.values())
