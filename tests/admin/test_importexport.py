"""The admin's export and import (djtriggers.admin.importexport).

Export: streamed CSV, JSON and XLSX of the filtered list, formula-like text escaped,
control characters never breaking a file. Import: a preview that is a summary and
the rows with problems, then all or nothing. A file we export imports back into an
empty database as the same triggers, in every format and time zone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.admin import AdminSite
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from import_export.admin import ExportActionMixin
from import_export.formats.base_formats import TSV
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from djtriggers.admin import TriggerAdmin
from djtriggers.admin.formats import TriggerCSV
from djtriggers.imports import COLUMNS
from djtriggers.models import Trigger
from djtriggers.resources import SHOWN_PROBLEMS
from tests.admin.conftest import CHANGELIST, change_url, messages_of, xlsx
from tests.conftest import login
from tests.factories import cancelled, due, failed, pending, processed, retried, running
from tests.system.test_bench import NUMBER, run_bench
from tests.testapp.models import BreakfastTrigger, NoopTrigger

pytestmark = pytest.mark.django_db

FORMATS = {"csv": "0", "json": "1", "xlsx": "2"}
ALL_COLUMNS = {f"triggerresource_{column}": "on" for column in COLUMNS}
SUMMER = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=UTC)
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://example.com/x","click")'
COLOURED = "ValueError: \x1b[31mred\x1b[0m \x07"


def export(client: Client, fmt: str, query: str = "", site: str = "/admin/") -> bytes:
    data = {"format": FORMATS[fmt], "resource": "0", **ALL_COLUMNS}
    response = client.post(f"{site}djtriggers/trigger/export/{query}", data)
    assert response.status_code == 200, response.content[:500]
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return b"".join(response.streaming_content)


def rows_of(fmt: str, content: bytes) -> list[dict[str, Any]]:
    """An exported file's rows, by column, as a reader of that format sees them."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(content.decode(), newline="")))
    if fmt == "json":
        return json.loads(content)
    sheet = load_workbook(io.BytesIO(content)).active
    header, *rows = sheet.values
    return [dict(zip(header, row, strict=True)) for row in rows]


def upload(client: Client, content: bytes | str, fmt: str = "csv", site: str = "/admin/") -> Any:
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        f"{site}djtriggers/trigger/import/",
        {
            "format": FORMATS[fmt],
            "import_file": SimpleUploadedFile(f"triggers.{fmt}", data),
            "resource": "0",
        },
    )


def confirm(client: Client, preview: Any, site: str = "/admin/") -> Any:
    form = preview.context["confirm_form"]
    return client.post(f"{site}djtriggers/trigger/process_import/", form.initial, follow=True)


# --- export ------------------------------------------------------------------------


def test_export_csv__streams_every_trigger_with_status_and_last_error(client, root):
    failing = retried(source="billing.invoice$1", error="ValueError: no coffee")
    markup = due(source="<b>x</b>")
    by_id = {int(row["id"]): row for row in rows_of("csv", export(client, "csv"))}
    assert by_id[failing.pk]["status"] == "due"
    assert by_id[failing.pk]["last_error"] == "ValueError: no coffee"
    assert by_id[failing.pk]["number_of_tries"] == "1"
    assert by_id[markup.pk]["source"] == "<b>x</b>"


def test_export_json__only_the_filtered_set(client, root):
    due()
    breakfast = due(BreakfastTrigger)
    data = rows_of("json", export(client, "json", "?type=breakfast"))
    assert [row["id"] for row in data] == [breakfast.pk]
    assert data[0]["status"] == "due"


def test_export_xlsx__a_header_and_a_row_per_trigger(client, root):
    due(), failed()
    response = client.post(f"{CHANGELIST}export/", {"format": "2", "resource": "0", **ALL_COLUMNS})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.values)
    assert rows[0] == COLUMNS
    assert len(rows) == 3


def test_export__needs_a_staff_user_who_may_view(client):
    due()
    login(client)
    response = client.post(f"{CHANGELIST}export/", {"format": "0", "resource": "0", **ALL_COLUMNS})
    assert response.status_code == 403
    login(client, "view_trigger")
    assert rows_of("csv", export(client, "csv"))


def test_export__a_query_string_it_cannot_filter_by_is_an_error_not_a_500(client, root):
    response = client.get(f"{CHANGELIST}export/?format=0", follow=True)
    assert response.redirect_chain[0][0] == f"{CHANGELIST}?e=1"
    assert any(message.startswith("Nothing exported:") for message in messages_of(response))


def test_export__a_bad_query_on_another_admin_site_leads_back_to_that_site(client, root):
    response = client.get("/otheradmin/djtriggers/trigger/export/?format=0")
    assert response["Location"] == "/otheradmin/djtriggers/trigger/?e=1"


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_export__times_in_iso_8601_with_their_offset_and_nulls_stay_null(
    client, root, fmt, settings
):
    settings.TIME_ZONE = "Europe/Amsterdam"
    due(source=None, date_received=SUMMER, process_after=WINTER)
    (row,) = rows_of(fmt, export(client, fmt))
    assert row["date_received"] == "2026-07-01T14:00:00.123456+02:00"
    assert row["process_after"] == "2026-01-15T13:00:00+01:00"
    empty = "" if fmt == "csv" else None  # CSV has no null: an empty cell
    assert (row["source"], row["date_processed"], row["successful"]) == (empty, empty, empty)
    assert row["last_error"] in ("", None) if fmt == "xlsx" else row["last_error"] == ""


def test_export_csv__formula_like_text_is_escaped_by_default(client, root, settings):
    del settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT  # a project that did not set it
    due(source=FORMULA)
    (row,) = rows_of("csv", export(client, "csv"))
    assert row["source"] == "'" + FORMULA


def test_export__a_format_a_project_adds_is_written_by_django_import_export(rf, root):
    class TsvAdmin(TriggerAdmin):
        export_formats = [TriggerCSV, TSV]  # TSV does not stream: written in memory

    trigger = due(source="a")
    request = rf.post(CHANGELIST + "export/", {"format": "1", "resource": "0", **ALL_COLUMNS})
    request.user = root
    response = TsvAdmin(Trigger, AdminSite()).export_action(request)
    assert not response.streaming
    header, row = response.content.decode().splitlines()
    assert header.split("\t") == list(COLUMNS)
    assert row.split("\t")[:4] == [str(trigger.pk), "noop", "a", "due"]


def test_export__from_a_change_page_too_it_needs_permission_to_view(rf, client, settings):
    """django-import-export's export action exports from a trigger's page without asking
    has_export_permission (with IMPORT_EXPORT_SKIP_ADMIN_ACTION_EXPORT_UI); ours still asks."""
    settings.IMPORT_EXPORT_SKIP_ADMIN_ACTION_EXPORT_UI = True

    class ExportingAdmin(ExportActionMixin, TriggerAdmin):
        pass

    trigger = due()
    model_admin = ExportingAdmin(Trigger, AdminSite())
    request = rf.post(change_url(trigger), {"_export-item": "Export"})
    request.user = login(client, "change_trigger")
    with pytest.raises(PermissionDenied):
        model_admin.response_change(request, trigger)
    request.user = login(client, "view_trigger", "change_trigger")
    response = model_admin.response_change(request, trigger)
    assert [int(row["id"]) for row in rows_of("csv", b"".join(response.streaming_content))] == [
        trigger.pk
    ]


# --- import: the preview and the confirmation ----------------------------------


def test_import__preview_writes_nothing_and_confirm_creates(client, root):
    content = "trigger_type,source,process_after\nnoop,acct$1,2030-01-01 10:00:00\nbreakfast,,\n"
    response = upload(client, content)
    assert response.status_code == 200
    assert response.context["confirm_form"] is not None
    html = response.content.decode()
    assert "2 triggers will be created" in html
    assert '<span class="djt-badge djt-pending">pending</span>' in html
    assert not Trigger.objects.exists()  # a preview is a dry run

    response = confirm(client, response)
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert messages_of(response) == ["Imported 2 triggers."]
    created = {t.trigger_type: t for t in Trigger.objects.all()}
    assert set(created) == {"noop", "breakfast"}
    assert created["noop"].status == "pending"
    assert created["noop"].source == "acct$1"
    assert created["breakfast"].status == "due"


def test_import__each_created_trigger_is_in_the_admin_log(client, root):
    confirm(client, upload(client, "trigger_type\nnoop\nnoop\n"))
    entries = LogEntry.objects.filter(action_flag=ADDITION, user=root)
    assert sorted(int(e.object_id) for e in entries) == sorted(
        Trigger.objects.values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("trigger_type,source\nnope,x\nnoop,y\n", "Unknown trigger type &#x27;nope&#x27;"),
        ("trigger_type,process_after\nnoop,next tuesday\n", "next tuesday"),
        ("trigger_type,source\ntestapp.paybill,x\n", "Import supports proxy trigger types"),
        ("trigger_type,source\n,x\n", "The trigger_type column is empty"),
        ("trigger_type,process_after\nnoop,9999-12-31 23:59:00\n", "too far ahead"),
        ("trigger_type,process_after\nnoop,1900-01-01 00:00:00\n", "too far back"),
        ("trigger_type,process_after\nnoop,99999-01-01 00:00\n", "99999-01-01 00:00"),
        ("trigger_type,number_of_tries\nnoop,inf\n", "is not a number of tries"),
        ("trigger_type,number_of_tries\nnoop,٣\n", "is not a number of tries"),
        ("trigger_type,status\nnoop,done\n", "Unknown status"),
    ],
)
def test_import__row_errors_are_shown_and_nothing_is_written(client, root, content, message):
    response = upload(client, content)
    assert response.status_code == 200
    assert message.encode() in response.content
    assert b"Nothing was written" in response.content
    assert response.context.get("confirm_form") is None  # no way to confirm
    assert not Trigger.objects.exists()


# Every way a file is refused: tests/admin/test_formats.py.
@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("xlsx", b"\x00\x01 not a spreadsheet", "This is not an XLSX file we can read"),
        ("csv", b"", "The submitted file is empty"),  # Django's form says so first
        ("csv", b"trigger_type\nnoop,extra\n", "Row 1 has more values than the header row has"),
        ("csv", "trigger_type\nnoöp\n".encode("latin-1"), "The file is not UTF-8 text"),
        # django-import-export reads JSON as text, and its decoding fails first.
        ("json", '[{"trigger_type": "noöp"}]'.encode("latin-1"), "The file is not UTF-8 text"),
        ("json", b"[]", "The file has no triggers"),
        # What no format foresaw: django-import-export's message.
        ("json", b"[" * 100_000, "RecursionError&#x27; encountered while trying to read file"),
    ],
)
def test_import__a_bad_file_is_refused_with_a_clear_message(client, root, fmt, content, message):
    response = upload(client, content, fmt)
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["import_file"])
    assert response.context.get("confirm_form") is None
    assert not Trigger.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("trigger_type,sauce\nnoop,x\n", "Unknown column &#x27;sauce&#x27;"),
        ("source\nx\n", "The file has no trigger_type column"),
        ("trigger_type;source\nnoop;x\n", "Is the file separated by semicolons?"),
    ],
)
def test_import__wrong_columns_are_refused_with_a_clear_message(client, root, content, message):
    response = upload(client, content)
    assert b"The file cannot be imported" in response.content
    assert message.encode() in response.content
    assert response.context.get("confirm_form") is None
    assert not Trigger.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_import__more_rows_than_the_limit_are_refused_and_nothing_changes(
    client, root, settings, fmt
):
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 3
    due()
    content = {
        "csv": "trigger_type\n" + "noop\n" * 4,
        "json": json.dumps([{"trigger_type": "noop"}] * 4),
        "xlsx": xlsx(["trigger_type"], *[["noop"]] * 4),
    }[fmt]
    response = upload(client, content, fmt)
    errors = str(response.context["form"].errors["import_file"])
    assert "The file has more than 3 rows: an import takes at most 3" in errors
    assert response.context.get("confirm_form") is None
    assert Trigger.objects.count() == 1
    # Up to the limit is fine.
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 4
    confirm(client, upload(client, content, fmt))
    assert Trigger.objects.count() == 5


def test_import__needs_permission(client):
    login(client, "view_trigger")
    response = upload(client, "trigger_type\nnoop\n")
    assert response.status_code == 403
    assert not Trigger.objects.exists()
    login(client, "view_trigger", "add_trigger")
    confirm(client, upload(client, "trigger_type\nnoop\n"))
    assert Trigger.objects.count() == 1


def test_import__the_preview_lists_the_first_problems_and_counts_the_rest(client, root):
    bad = SHOWN_PROBLEMS + 50
    response = upload(client, "trigger_type\n" + "noop\n" * 10 + "nope\n" * bad)
    html = response.content.decode()
    assert f"{bad} rows have problems" in html
    assert html.count("Unknown trigger type") == SHOWN_PROBLEMS
    assert "… and 50 more problems." in html
    assert response.context.get("confirm_form") is None


def test_import__the_preview_of_many_rows_is_a_summary_not_every_row(client, root):
    rows = "".join(f"noop,billing.invoice${i},+{i + 1}m\n" for i in range(2000))
    response = upload(client, "trigger_type,source,process_after\n" + rows + ",,\n")
    html = response.content.decode()
    assert "2000 triggers will be created" in html
    assert "billing.invoice$" not in html
    assert len(response.content) < 20_000
    summary = re.sub(r"\s+", " ", html)
    # rows, new, updated, skipped, invalid; then by status and by type.
    assert "<td>2001</td><td>2000</td><td>0</td> <td>1</td><td>0</td>" in summary
    assert '<span class="djt-badge djt-pending">pending</span></td><td>2000</td>' in summary
    assert "<tr><td>noop</td><td>2000</td></tr>" in summary


def test_import__a_confirmation_that_finds_problems_writes_nothing_and_says_so(
    client, root, monkeypatch
):
    preview = upload(client, "trigger_type\nnoop\nbreakfast\n")
    monkeypatch.setattr("djtriggers.rows.trigger_classes", lambda: {})  # classes gone
    response = confirm(client, preview)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}import/"
    (message,) = messages_of(response)
    assert message.startswith("Nothing was imported: 2 problems, the first row 1, trigger_type:")
    assert not Trigger.objects.exists()


def test_import__a_confirmation_over_the_limit_writes_nothing_and_says_so(client, root, settings):
    preview = upload(client, "trigger_type\nnoop\nnoop\n")
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 1
    response = confirm(client, preview)
    (message,) = messages_of(response)
    assert message.startswith("Nothing was imported: The file has more than 1 row")
    assert not Trigger.objects.exists()


def test_import__on_another_admin_site_stays_there(client, root):
    preview = upload(client, "trigger_type\nnoop\n", site="/otheradmin/")
    assert b'action="/otheradmin/djtriggers/trigger/process_import/"' in preview.content
    response = confirm(client, preview, site="/otheradmin/")
    assert response.redirect_chain[-1][0] == "/otheradmin/djtriggers/trigger/"
    assert Trigger.objects.count() == 1


def test_import__without_a_confirmation_step_too_it_is_all_or_nothing(client, root, settings):
    settings.IMPORT_EXPORT_SKIP_ADMIN_CONFIRM = True
    response = upload(client, "trigger_type\nnoop\nnope\n")
    assert b"1 row has problems" in response.content
    assert not Trigger.objects.exists()
    response = client.get(upload(client, "trigger_type\nnoop\nbreakfast\n")["Location"])
    assert messages_of(response) == ["Imported 2 triggers."]
    assert Trigger.objects.count() == 2


def test_import__csv_text_escaped_by_the_export_is_read_back_as_it_was(client, root):
    content = "trigger_type,source\nnoop,'=1+1\nnoop,''-1\nnoop,'plain\n"
    confirm(client, upload(client, content))
    sources = list(Trigger.objects.order_by("pk").values_list("source", flat=True))
    assert sources == ["=1+1", "'-1", "'plain"]


# --- the round trip ----------------------------------------------------------------

# What the export shows of a trigger, and its state; ids are new on import.
COMPARED = [column for column in COLUMNS if column != "id"] + ["state"]


def every_status() -> None:
    """Triggers in every status, with the 2.x columns, hostile text and times of both seasons."""
    now = timezone.now()
    pending(source=FORMULA, date_received=SUMMER)
    due(BreakfastTrigger, source=None, date_received=WINTER)
    retried(error=COLOURED + " =1+1\r\nline\rtwo", tries=2, source="-1")
    running(source="@SUM(A1)")
    failed(error=f"{FORMULA}: \x1b[1mboom\x1b[0m\n  traceback", tries=5, source="'=quoted")
    processed(source="+1 ünïcødé ✓ 😀", at=now - timedelta(minutes=3))
    cancelled(source="#N/A", at=now - timedelta(minutes=2))
    # Written the 2.x way: date_processed and successful decide the state.
    NoopTrigger.objects.create(source="2.x", date_processed=now - timedelta(hours=1))
    NoopTrigger.objects.create(date_processed=now, successful=True, number_of_tries=1)
    NoopTrigger.objects.create(
        date_processed=now, successful=False, number_of_tries=3, last_error="KeyError: 'x'"
    )


def state_of(trigger: Trigger) -> dict[str, Any]:
    return {
        **{column: getattr(trigger, column) for column in COMPARED if column != "status"},
        "status": trigger.status,
    }


def as_imported(fmt: str, before: dict[str, Any]) -> dict[str, Any]:
    """A trigger as it comes back: running ones scheduled, and in XLSX, control characters
    replaced and line breaks read back as "\\n" (XML's)."""
    after = dict(before)
    if before["status"] == "running":
        after.update(status="due", state="scheduled")
    if fmt == "xlsx":
        for column in ("source", "last_error"):
            if after[column]:
                text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", after[column])
                after[column] = text.replace("\r\n", "\n").replace("\r", "\n")
    return after


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York"])
@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_round_trip__a_file_we_export_imports_back_as_the_same_triggers(
    client, root, settings, fmt, zone
):
    settings.TIME_ZONE = zone
    del settings.IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT  # escaping on, the default
    every_status()
    originals = [state_of(t) for t in Trigger.objects.order_by("pk")]
    assert {t["status"] for t in originals} == {
        "pending",
        "due",
        "running",
        "failed",
        "processed",
        "cancelled",
    }
    exported = export(client, fmt)

    Trigger.objects.all().delete()
    preview = upload(client, exported, fmt)
    assert preview.context["confirm_form"] is not None, preview.content.decode()
    assert b"1 of them was running" in preview.content
    assert messages_of(confirm(client, preview)) == [f"Imported {len(originals)} triggers."]

    imported = [state_of(t) for t in Trigger.objects.order_by("pk")]
    assert imported == [as_imported(fmt, original) for original in originals]
    # And exported again, the same file but for the new ids (and the running one).
    first, second = rows_of(fmt, exported), rows_of(fmt, export(client, fmt))
    for row in first:
        row["status"] = "due" if row["status"] == "running" else row["status"]
    assert [{**row, "id": None} for row in second] == [{**row, "id": None} for row in first]


# --- the benchmark -------------------------------------------------------------------


@pytest.mark.slow
def test_bench_import_preview__smoke_run(tmp_path):
    """bench/import_preview.py --smoke runs to the end and prints its numbers."""
    db = "postgres" if os.environ.get("DJTRIGGERS_TEST_DB") == "postgres" else "sqlite"
    output = run_bench(
        "import_preview",
        *("--smoke", "--db", db),
        env={"BENCH_IMPORT_DATABASE": f"djtriggers_smoke_import_{os.getpid()}"},
        cwd=tmp_path,
    )
    for name in ("valid file", "10% invalid"):
        # median, min, max, html bytes, queries
        row = rf"^{name}\s+({NUMBER}s\s+){{3}}{NUMBER}\s+{NUMBER}$"
        assert re.search(row, output, re.MULTILINE), output
    assert "created 200 of 200 triggers" in output
    assert "Goal: the preview of 200 valid rows under 2 s: met." in output
