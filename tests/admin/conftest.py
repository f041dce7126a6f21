"""Fixtures and helpers of the admin's tests: posting actions, reading pages, hostile data."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from openpyxl import Workbook

from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.factories import retried
from tests.testapp.models import PayBill

CHANGELIST = "/admin/djtriggers/trigger/"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def act(client: Client, action: str, triggers: Any, query: str = "", **data: Any) -> Any:
    """Post ``action`` on ``triggers`` from the changelist, as its form does."""
    pks = [t.pk for t in triggers]
    return client.post(
        CHANGELIST + query, {ACTION_CHECKBOX_NAME: pks, "action": action, **data}, follow=True
    )


def confirm(client: Client, action: str, triggers: Any, query: str = "", **data: Any) -> Any:
    """Post ``action`` as its confirmation page does (``post=yes``)."""
    return act(client, action, triggers, query, post="yes", **data)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def listed(response: Any) -> set[int]:
    """The pks on a changelist page."""
    return {obj.pk for obj in response.context["cl"].result_list}


def states(*triggers: Trigger) -> list[str]:
    """The states of ``triggers`` as their rows say now."""
    return [Trigger.objects.get(pk=t.pk).state for t in triggers]


def change_url(trigger: Any, model: str = "djtriggers/trigger") -> str:
    return f"/admin/{model}/{trigger.pk}/change/"


def action_names(response: Any) -> set[str]:
    """The admin actions a changelist page offers."""
    form = response.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def assert_escaped(response: Any) -> None:
    html = response.content.decode()
    assert response.status_code == 200
    assert XSS not in html
    assert ESCAPED in html


@pytest.fixture
def hostile(client: Client, root: User) -> Trigger:
    """A trigger whose every text shown by the admin is markup."""
    trigger = retried(source=XSS, error=XSS)
    TriggerResult.objects.create(trigger=trigger, result=XSS)
    now = timezone.now()
    TriggerAttempt.objects.create(
        trigger=trigger,
        number=1,
        worker=XSS,
        started_at=now,
        finished_at=now,
        outcome="failure",
        exception_class="ValueError",
        message=XSS,
        traceback=XSS,
    )
    action = OperatorAction.objects.create(kind="reschedule", reason=XSS, user=root, changed=1)
    action.triggers.add(trigger)
    return trigger


@pytest.fixture
def bill(root: User) -> PayBill:
    return PayBill.objects.create(amount=3, recipient=root, source="shop.order$1")


def change_form_data(trigger: Trigger, when: Any) -> dict[str, str]:
    """The trigger's change form, posted with ``process_after`` set to ``when``."""
    local = timezone.localtime(when)
    return {
        "source": trigger.source or "",
        "process_after_0": f"{local:%Y-%m-%d}",
        "process_after_1": f"{local:%H:%M:%S}",
    }


def xlsx(*rows: list[Any]) -> bytes:
    """An XLSX file of these rows, as a spreadsheet program saves it."""
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
