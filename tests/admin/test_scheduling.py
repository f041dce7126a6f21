"""Schedules in the admin (djtriggers.admin.scheduling): the list, adding, disable and enable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from djtriggers import schedules
from djtriggers.lifecycle import State
from djtriggers.models import OperatorAction, Schedule
from tests.admin.conftest import messages_of
from tests.conftest import login
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db

LIST = "/admin/djtriggers/schedule/"
ADD = LIST + "add/"


def added(**fields) -> Schedule:
    values = {
        "trigger_type": "noop",
        "expression": "*/15 * * * *",
        "time_zone": "Europe/Brussels",
        "next_run_at": datetime(2026, 12, 4, 12, 15, tzinfo=UTC),
        **fields,
    }
    return Schedule.objects.create(**values)


def toggle(client, action, rows, **data):
    return client.post(
        LIST, {ACTION_CHECKBOX_NAME: [r.pk for r in rows], "action": action, **data}, follow=True
    )


def test_list__next_and_last_run_on_the_schedule_clock_and_the_last_outcome(client, root):
    schedules.sync()
    trigger = NoopTrigger.objects.create(state=State.FAILED)
    row = added(last_run_at=datetime(2026, 12, 4, 12, tzinfo=UTC), last_trigger_id=trigger.pk)
    gone = added(trigger_type="gone.type", last_trigger_id=10**6)
    off = added(enabled=False, next_run_at=None)
    response = client.get(LIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span title="2026-12-04 12:15 UTC">2026-12-04 13:15 CET</span>' in html
    assert '<span title="2026-12-04 12:00 UTC">2026-12-04 13:00 CET</span>' in html
    assert f'href="/admin/djtriggers/trigger/{trigger.pk}/change/"' in html
    assert "djt-badge djt-failed" in html
    assert "trigger #1000000 (deleted)" in html
    assert "not run: no class has this type" in html
    assert "none (disabled)" in html
    assert "declared by its class" in html and "added here" in html
    assert {o.pk for o in response.context["cl"].result_list} >= {row.pk, gone.pk, off.pk}
    # Bulk delete is not offered: a declared row would come back at the next sync.
    assert "delete_selected" not in html


def test_list__query_count_does_not_grow_with_the_rows(client, root, django_assert_max_num_queries):
    for _ in range(3):
        added()
    client.get(LIST)
    for _ in range(20):
        added(last_trigger_id=NoopTrigger.objects.create().pk)
    with django_assert_max_num_queries(12):
        client.get(LIST)


def test_add__a_schedule_for_a_type_without_own_data(client, root):
    page = client.get(ADD)
    assert page.status_code == 200
    assert 'value="UTC"' in page.content.decode()  # TIME_ZONE of the test settings
    response = client.post(
        ADD,
        {
            "trigger_type": "noop",
            "expression": " 30  2 * * * ",
            "time_zone": "Europe/Brussels",
            "catch_up": "none",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = Schedule.objects.get()
    assert (row.expression, row.time_zone, row.catch_up, row.declared, row.enabled) == (
        "30 2 * * *",
        "Europe/Brussels",
        "none",
        None,
        True,
    )
    assert row.next_run_at > timezone.now()
    assert LogEntry.objects.get().object_id == str(row.pk)


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"expression": "every day"}, "expression", "give five fields"),
        ({"expression": "0 25 * * *"}, "expression", "bad hour"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "'Mars/Olympus' is not a time zone"),
        ({"trigger_type": "testapp.paybill"}, "trigger_type", "needs its own data (amount, "),
        ({"trigger_type": "nope"}, "trigger_type", "Select a valid choice"),
    ],
)
def test_add__bad_input_says_how_to_fix_it_and_adds_nothing(client, root, data, field, says):
    values = {
        "trigger_type": "noop",
        "expression": "@hourly",
        "time_zone": "UTC",
        "catch_up": "one",
        **data,
    }
    response = client.post(ADD, values)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert says in " ".join(errors[field])
    assert not Schedule.objects.exists()


def test_change__a_new_expression_moves_the_next_run(client, root):
    row = added(next_run_at=datetime(2026, 1, 1, tzinfo=UTC))
    response = client.post(
        f"{LIST}{row.pk}/change/",
        {"expression": "@daily", "time_zone": "UTC", "catch_up": "one"},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.expression == "@daily"
    assert row.next_run_at > timezone.now()
    assert row.trigger_type == "noop"  # read-only once added


def test_change__a_declared_row_is_read_only_and_cannot_be_deleted(client, root):
    schedules.sync()
    row = Schedule.objects.get(declared=True)
    page = client.get(f"{LIST}{row.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="expression"' not in html
    assert f"?q=schedule%24{row.pk}%24" in html or f"?q=schedule${row.pk}$" in html
    assert client.get(f"{LIST}{row.pk}/delete/").status_code == 403
    # A declared row no class declares any more may go.
    gone = added(declared=True)
    assert client.get(f"{LIST}{gone.pk}/delete/").status_code == 200


def test_disable_and_enable__a_reason_page_then_audited(client, root):
    row = added()
    page = toggle(client, "disable_schedules", [row])
    assert page.templates[0].name == "djtriggers/admin/schedule_toggle.html"
    assert 'name="reason"' in page.content.decode()
    done = toggle(client, "disable_schedules", [row], post="yes", reason="noisy <b>")
    assert messages_of(done) == ["Disabled 1 schedule."]
    row.refresh_from_db()
    assert not row.enabled and row.next_run_at is None
    again = toggle(client, "disable_schedules", [row])
    assert messages_of(again) == ["They are all disabled already."]
    toggle(client, "enable_schedules", [row], post="yes", reason="")
    row.refresh_from_db()
    assert row.enabled
    assert messages_of(toggle(client, "enable_schedules", [row])) == [
        "They are all enabled already."
    ]
    assert list(OperatorAction.objects.order_by("pk").values_list("kind", "reason")) == [
        ("disable", "noisy <b>"),
        ("enable", ""),
    ]
    page = client.get(f"{LIST}{row.pk}/change/").content.decode()
    assert "Disable schedule" in page and "noisy &lt;b&gt;" in page
    assert "by root" in page


def test_audit__never_disabled(client, root):
    row = added()
    assert "never" in client.get(f"{LIST}{row.pk}/change/").content.decode()


def test_permissions__viewing_is_not_disabling(client):
    row = added()
    login(client, "view_schedule")
    response = client.get(LIST)
    assert response.status_code == 200
    assert "disable_schedules" not in response.content.decode()
    toggle(client, "disable_schedules", [row], post="yes")
    row.refresh_from_db()
    assert row.enabled and not OperatorAction.objects.exists()
    assert client.get(ADD).status_code == 403


def test_permissions__the_change_permission_disables(client):
    row = added()
    login(client, "view_schedule", "change_schedule")
    toggle(client, "disable_schedules", [row], post="yes")
    row.refresh_from_db()
    assert not row.enabled


def test_when__bad_zone_shows_local_time():
    from djtriggers.admin.scheduling import when

    assert when(None, "UTC") == "-"
    assert "2026-12-04" in when(datetime(2026, 12, 4, 12, tzinfo=UTC), "Mars/Olympus")


def test_change__only_the_catch_up_keeps_the_next_run(client, root):
    row = added(catch_up="one")
    response = client.post(
        f"{LIST}{row.pk}/change/",
        {"expression": row.expression, "time_zone": row.time_zone, "catch_up": "none"},
    )
    assert response.status_code == 302
    before = row.next_run_at
    row.refresh_from_db()
    assert (row.catch_up, row.next_run_at) == ("none", before)


def test_permissions__who_may_view_triggers_sees_the_schedules(client):
    added()
    login(client, "view_trigger")
    assert client.get(LIST).status_code == 200
    assert "/admin/djtriggers/schedule/" in client.get("/admin/").content.decode()
