"""The dashboard's schedules panel: next and last run, last outcome, Disable and Enable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from djtriggers.lifecycle import State
from djtriggers.models import OperatorAction, Schedule
from tests.conftest import login
from tests.dashboard.conftest import INDEX, LIVE
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(pk: int, kind: str) -> str:
    return reverse("dashboard:schedule_control", args=[pk, kind])


def added(**fields) -> Schedule:
    values = {
        "trigger_type": "noop",
        "expression": "*/15 * * * *",
        "time_zone": "Europe/Brussels",
        "next_run_at": timezone.now() + timedelta(minutes=10),
        **fields,
    }
    return Schedule.objects.create(**values)


def test_panel__each_schedule_with_next_last_and_outcome(client, root):
    failed = NoopTrigger.objects.create(state=State.FAILED)
    row = added(last_run_at=timezone.now() - timedelta(minutes=5), last_trigger_id=failed.pk)
    off = added(enabled=False, next_run_at=None)
    gone = added(trigger_type="gone.type", last_trigger_id=10**6)
    html = client.get(INDEX, headers=LIVE).content.decode()
    assert "Schedules" in html
    assert "<code>*/15 * * * *</code> Europe/Brussels" in html
    assert "(due in 9m " in html
    assert f'href="/admin/djtriggers/trigger/{failed.pk}/change/"' in html
    assert "djt-badge djt-failed" in html
    assert "#1000000 (deleted)" in html
    assert "not run: no class has this type" in html
    assert url(row.pk, "disable") in html and url(off.pk, "enable") in html
    assert url(gone.pk, "disable") in html


def test_panel__empty_says_how_to_add_one(client, root):
    assert "No recurring schedule." in client.get(INDEX).content.decode()


def test_panel__without_the_permission_no_buttons(client):
    row = added(enabled=False, next_run_at=None)
    login(client, "view_trigger")
    html = client.get(INDEX).content.decode()
    assert url(row.pk, "enable") not in html
    assert "disabled" in html


def test_disable_and_enable__htmx_answers_and_audits(client, root):
    row = added()
    response = client.post(url(row.pk, "disable"), {"reason": "<b>noisy</b>"}, headers=HTMX)
    assert response["HX-Trigger"] == "triggers-changed"
    assert "Disabled the schedule of noop." in response.content.decode()
    again = client.post(url(row.pk, "disable"), headers=HTMX)
    assert "was disabled already" in again.content.decode()
    assert "HX-Trigger" not in again
    row.refresh_from_db()
    assert not row.enabled
    enabled = client.post(url(row.pk, "enable"), headers=HTMX).content.decode()
    assert "Enabled the schedule of noop." in enabled
    assert (
        "was enabled already" in client.post(url(row.pk, "enable"), headers=HTMX).content.decode()
    )
    assert list(
        OperatorAction.objects.order_by("pk").values_list("kind", "reason", "username")
    ) == [
        ("disable", "<b>noisy</b>", "root"),
        ("enable", "", "root"),
    ]


def test_disable__without_javascript_redirects_with_a_message(client, root):
    row = added()
    response = client.post(url(row.pk, "disable"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:index")
    assert "Disabled the schedule of noop." in response.content.decode()


def test_bad_requests(client, root):
    row = added()
    assert client.post(url(row.pk, "delete")).status_code == 404
    assert client.post(url(10**6, "disable")).status_code == 404
    assert client.get(url(row.pk, "disable")).status_code == 405
    long = client.post(url(row.pk, "disable"), {"reason": "x" * 1001}, headers=HTMX)
    assert "Shorten the reason" in long.content.decode()
    row.refresh_from_db()
    assert row.enabled


def test_permission__needed_in_the_view(client):
    row = added()
    login(client, "view_trigger")
    assert client.post(url(row.pk, "disable")).status_code == 403
    row.refresh_from_db()
    assert row.enabled


def test_staff_only(client):
    row = added()
    login(client, "change_schedule", staff=False)
    assert client.post(url(row.pk, "disable")).status_code == 302
    row.refresh_from_db()
    assert row.enabled


def test_health__a_schedule_long_past_its_slot_is_503_naming_it(client, root, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    late = added(next_run_at=timezone.now() - timedelta(seconds=600))
    added(next_run_at=timezone.now() - timedelta(seconds=10))  # a worker gets to it soon
    added(enabled=False, next_run_at=None)
    response = client.get(reverse("dashboard:health"))
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith(f"the schedule {late.pk} of noop (*/15 * * * *) is 60")
    assert problem.endswith(
        "s past its slot without a trigger (more than 60s): does a worker run its type?"
    )
