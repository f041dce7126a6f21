"""Export (streamed CSV, JSON, XLSX) and import (validated, all or nothing) in the admin."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from djtriggers.exceptions import ProcessError
from djtriggers.models import Trigger
from tests.testapp.models import FailingTrigger, NoopTrigger

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/djtriggers/trigger/"
FORMATS = {"csv": "0", "json": "1", "xlsx": "2"}
COLUMNS = [
    "id",
    "trigger_type",
    "source",
    "status",
    "date_received",
    "process_after",
    "date_processed",
    "number_of_tries",
    "last_error",
]
ALL_COLUMNS = {f"triggerresource_{column}": "on" for column in COLUMNS}


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.fixture
def triggers():
    failing = FailingTrigger.objects.create(source="billing.invoice$1")
    with pytest.raises(ProcessError):
        failing.process()
    return [failing, NoopTrigger.objects.create(source="<b>x</b>")]


def export(client, fmt, query=""):
    data = {"format": FORMATS[fmt], "resource": "0", **ALL_COLUMNS}
    response = client.post(f"{CHANGELIST}export/{query}", data)
    assert response.status_code == 200, response.content[:500]
    return response


def test_export_csv__streams_every_trigger_with_status_and_last_error(admin_client, triggers):
    response = export(admin_client, "csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_id = {int(row["id"]): row for row in rows}
    failing = triggers[0]
    assert by_id[failing.pk]["status"] == "due"
    assert by_id[failing.pk]["last_error"].startswith("ValueError: no coffee")
    assert by_id[triggers[1].pk]["source"] == "<b>x</b>"
    assert response["Content-Disposition"].startswith('attachment; filename="')


def test_export_json__only_the_filtered_set(admin_client, triggers):
    response = export(admin_client, "json", "?type=noop")
    data = json.loads(b"".join(response.streaming_content))
    assert [row["id"] for row in data] == [triggers[1].pk]
    assert data[0]["status"] == "due"


def test_export_xlsx(admin_client, triggers):
    response = export(admin_client, "xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.active.values)
    assert rows[0][:4] == ("id", "trigger_type", "source", "status")
    assert len(rows) == 3


def test_export__needs_a_staff_user_who_may_view(client, triggers):
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    response = client.post(f"{CHANGELIST}export/", {"format": "0", "resource": "0", **ALL_COLUMNS})
    assert response.status_code == 403


def upload(client, content, name="triggers.csv", fmt="0"):
    return client.post(
        f"{CHANGELIST}import/",
        {
            "format": fmt,
            "import_file": SimpleUploadedFile(name, content.encode()),
            "resource": "0",
        },
    )


def test_import__preview_writes_nothing_and_confirm_creates(admin_client):
    content = "trigger_type,source,process_after\nnoop,acct$1,2030-01-01 10:00:00\nbreakfast,,\n"
    response = upload(admin_client, content)
    assert response.status_code == 200
    assert b"confirm" in response.content.lower()
    assert not Trigger.objects.exists()  # a preview is a dry run
    form = response.context["confirm_form"]
    response = admin_client.post(f"{CHANGELIST}process_import/", form.initial, follow=True)
    assert response.status_code == 200
    created = {t.trigger_type: t for t in Trigger.objects.all()}
    assert set(created) == {"noop", "breakfast"}
    assert created["noop"].status == "pending"
    assert created["noop"].source == "acct$1"
    assert created["breakfast"].status == "due"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("trigger_type,source\nnope,x\nnoop,y\n", "Unknown trigger type &#x27;nope&#x27;"),
        ("trigger_type,process_after\nnoop,next tuesday\n", "next tuesday"),
        ("trigger_type,source\ntestapp.paybill,x\n", "Import supports proxy trigger types"),
        ("trigger_type,source\n,x\n", "The trigger_type column is empty"),
        ("trigger_type,process_after\nnoop,9999-12-31 23:59:00\n", "too far ahead"),
        ("trigger_type,process_after\nnoop,1900-01-01 00:00:00\n", "too far back"),
    ],
)
def test_import__row_errors_are_shown_and_nothing_is_written(admin_client, content, message):
    response = upload(admin_client, content)
    assert response.status_code == 200
    assert message.encode() in response.content
    assert response.context.get("confirm_form") is None  # no way to confirm
    assert not Trigger.objects.exists()


def test_import__a_malformed_file_is_refused(admin_client):
    response = upload(admin_client, "\x00\x01 not a spreadsheet", name="x.xlsx", fmt="2")
    assert response.status_code == 200
    assert b"Ensure you have chosen the correct format for the file" in response.content
    assert not Trigger.objects.exists()


def test_import__needs_permission(client):
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_trigger"))
    client.force_login(staff)
    response = upload(client, "trigger_type\nnoop\n")
    assert response.status_code == 403
    assert not Trigger.objects.exists()


def test_import__a_created_trigger_is_due_by_default(admin_client):
    before = timezone.now()
    response = upload(admin_client, "trigger_type\nnoop\n")
    admin_client.post(f"{CHANGELIST}process_import/", response.context["confirm_form"].initial)
    assert Trigger.objects.get().process_after >= before


def test_export__a_query_string_it_cannot_filter_by_is_an_error_not_a_500(admin_client):
    response = admin_client.get(f"{CHANGELIST}export/?format=0")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_export_xlsx__control_characters_in_an_error_do_not_break_the_file(admin_client):
    NoopTrigger.objects.create(source="x", last_error="ValueError: \x1b[31mred\x1b[0m \x07")
    response = export(admin_client, "xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.active.values)
    assert "ValueError: [31mred[0m " in rows[1]
