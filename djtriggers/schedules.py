"""Recurring schedules: the workers create one trigger of a type per slot of a cron expression.

A class declares ``schedule = "*/15 * * * *"`` (and optionally
``schedule_timezone`` and ``schedule_catch_up``); ``sync`` keeps one declared
``Schedule`` row per such class, when workers start and by ``manage.py
schedules --sync``. Operators add rows in the admin for types that need no own
data, and disable and enable any row (audited). The workers' side, creating
exactly one trigger per slot, is ``scheduler.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from . import cron, signals, wakeup
from .audit import person
from .controls import _check_reason
from .db import write_transaction
from .lifecycle import State, Status
from .models import OperatorAction, Schedule, Trigger
from .registry import trigger_classes

PERMISSION = "djtriggers.change_schedule"
CATCH_UPS = [value for value, _ in Schedule.CatchUp.choices]


# --- declarations --------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """A class's schedule, its time zone resolved."""

    expression: str
    timezone: str
    catch_up: str


def default_timezone() -> str:
    return str(django_settings.TIME_ZONE or "UTC")


def declaration(cls: type[Trigger]) -> Declaration | None:
    """The schedule ``cls`` declares itself (a subclass does not inherit its parent's)."""
    expression = cls.__dict__.get("schedule")
    # A model field called "schedule" (its descriptor has .field) is data, not a schedule.
    if expression is None or hasattr(expression, "field"):
        return None
    return Declaration(
        expression=str(expression),
        timezone=str(getattr(cls, "schedule_timezone", None) or default_timezone()),
        catch_up=str(getattr(cls, "schedule_catch_up", Schedule.CatchUp.ONE)),
    )


def own_data(cls: type[Trigger]) -> list[str]:
    """The fields of its own table that a trigger of ``cls`` cannot be created without."""
    base = {f.name for f in Trigger._meta.concrete_fields}
    return [
        f.name
        for f in cls._meta.concrete_fields
        if f.name not in base
        and not f.primary_key
        and not f.has_default()
        and not f.null
        and not (f.blank and f.empty_strings_allowed)
    ]


@dataclass(frozen=True)
class Problem:
    # What is wrong: "expression" (or catch-up), "zone", or "type" (abstract, own data).
    kind: str
    message: str
    hint: str


def problems(cls: type[Trigger]) -> list[Problem]:
    """What is wrong with the schedule ``cls`` declares (system checks E018 to E020)."""
    found = declaration(cls)
    if found is None:
        return []
    name = cls.__name__
    result = []
    try:
        cron.expand(found.expression)
    except cron.CronError as exc:
        hint = "Write five fields (minute hour day-of-month month day-of-week) or @hourly etc."
        result.append(Problem("expression", f"{name}.schedule: {exc}", hint))
    if found.catch_up not in CATCH_UPS:
        result.append(
            Problem(
                "expression",
                f"{name}.schedule_catch_up = {found.catch_up!r} is not valid.",
                'Set "one" (one run for all missed slots, the default) or "none" '
                "(skip missed slots).",
            )
        )
    try:
        cron.zone(found.timezone)
    except cron.CronError as exc:
        result.append(
            Problem(
                "zone",
                f"{name}.schedule_timezone: {exc}",
                "Set schedule_timezone to an IANA name, or remove it to use TIME_ZONE.",
            )
        )
    result += _needs_data(cls)
    return result


def _needs_data(cls: type[Trigger]) -> list[Problem]:
    if cls._meta.abstract:
        return [
            Problem(
                "type",
                f"{cls.__name__} is abstract and declares a schedule: it has no type to create.",
                "Declare the schedule on each concrete or proxy subclass that should run.",
            )
        ]
    missing = own_data(cls)
    if not missing:
        return []
    return [
        Problem(
            "type",
            f"{cls.__name__} declares a schedule but its triggers need their own data "
            f"({', '.join(missing)}): a schedule creates them with none.",
            "Give those fields defaults (or null=True), or create these triggers in code.",
        )
    ]


def declarations() -> dict[str, Declaration]:
    """The valid schedules the installed classes declare, by type."""
    found = {}
    for typed, classes in trigger_classes().items():
        declared = declaration(classes[0])
        if declared is not None and not problems(classes[0]):
            found[typed] = declared
    return found


def schedulable(trigger_type: str) -> type[Trigger]:
    """The class of a type an operator may add a schedule for; ValueError saying why not."""
    classes = trigger_classes().get(trigger_type)
    if not classes:
        raise ValueError(
            gettext("No trigger type %(type)s: use one of %(types)s.")
            % {"type": repr(trigger_type), "types": ", ".join(sorted(trigger_classes())) or "-"}
        )
    missing = own_data(classes[0])
    if missing:
        raise ValueError(
            gettext(
                "%(type)s needs its own data (%(fields)s) that a schedule cannot give: "
                "create its triggers in code, or choose a type without own data."
            )
            % {"type": trigger_type, "fields": ", ".join(missing)}
        )
    return classes[0]


# --- keeping declared rows in step with the classes -----------------------------------


@dataclass
class Synced:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    # Declared rows whose class declares no schedule any more: kept (disable or
    # delete them in the admin); no worker runs them.
    undeclared: list[Schedule] = field(default_factory=list)


def sync(*, using: str = "default", now: datetime | None = None) -> Synced:
    """Create and update the declared rows; the enabled state of each is the operators'."""
    now = now or timezone.now()
    wanted = declarations()
    rows = {row.trigger_type: row for row in Schedule.objects.using(using).filter(declared=True)}
    report = Synced(undeclared=[row for t, row in sorted(rows.items()) if t not in wanted])
    new = [
        Schedule(
            trigger_type=t,
            declared=True,
            expression=d.expression,
            time_zone=d.timezone,
            catch_up=d.catch_up,
            next_run_at=cron.next_slot(d.expression, d.timezone, now),
            created_at=now,
            updated_at=now,
        )
        for t, d in sorted(wanted.items())
        if t not in rows
    ]
    # A worker starting at the same moment may create them too: the unique key
    # on (trigger_type, declared) keeps one.
    Schedule.objects.using(using).bulk_create(new, ignore_conflicts=True)
    report.created = [row.trigger_type for row in new]
    for t, d in sorted(wanted.items()):
        row = rows.get(t)
        if row is None:
            continue
        changes: dict[str, Any] = {}
        if (row.expression, row.time_zone) != (d.expression, d.timezone):
            changes = {"expression": d.expression, "time_zone": d.timezone}
            if row.enabled:
                changes["next_run_at"] = cron.next_slot(d.expression, d.timezone, now)
        if row.catch_up != d.catch_up:
            changes["catch_up"] = d.catch_up
        if changes:
            Schedule.objects.using(using).filter(pk=row.pk).update(**changes, updated_at=now)
            report.updated.append(t)
    if new or report.updated:
        wakeup.poke(using)
    return report


def runnable(schedule: Schedule) -> str:
    """Why no worker runs ``schedule`` although it may be enabled ("" when they do)."""
    classes = trigger_classes().get(schedule.trigger_type)
    if not classes:
        return gettext("no class has this type")
    if schedule.declared and declaration(classes[0]) is None:
        return gettext("its class declares no schedule any more")
    return ""


# --- operators: disable and enable ----------------------------------------------------


def check_permission(user: Any) -> None:
    if user is not None and not user.has_perm(PERMISSION):
        raise PermissionDenied(
            gettext("Disabling and enabling schedules needs the permission %(permission)s.")
            % {"permission": PERMISSION}
        )


def disable(
    schedule: Schedule, *, reason: str = "", user: Any = None, using: str = "default"
) -> bool:
    """Stop ``schedule`` making triggers: True if this disabled it, False if it was already."""
    check_permission(user)
    reason = _check_reason(reason)
    rows = Schedule.objects.using(using).filter(pk=schedule.pk, enabled=True)
    with write_transaction(using):
        if not rows.update(enabled=False, next_run_at=None, updated_at=timezone.now()):
            schedule.refresh_from_db()
            return False
        _audit(OperatorAction.Kind.DISABLE, schedule, reason, user, using)
    schedule.enabled, schedule.next_run_at = False, None
    return True


def enable(
    schedule: Schedule, *, reason: str = "", user: Any = None, using: str = "default"
) -> bool:
    """Start ``schedule`` again from its next slot after now (the slots it was off are
    not caught up): True if this enabled it, False if it was enabled already."""
    check_permission(user)
    reason = _check_reason(reason)
    now = timezone.now()
    next_run = cron.next_slot(schedule.expression, schedule.time_zone, now)
    rows = Schedule.objects.using(using).filter(pk=schedule.pk, enabled=False)
    with write_transaction(using):
        if not rows.update(enabled=True, next_run_at=next_run, updated_at=now):
            schedule.refresh_from_db()
            return False
        _audit(OperatorAction.Kind.ENABLE, schedule, reason, user, using)
    schedule.enabled, schedule.next_run_at = True, next_run
    wakeup.poke(using, next_run)
    return True


def _audit(kind: str, schedule: Schedule, reason: str, user: Any, using: str) -> None:
    enabled = kind == OperatorAction.Kind.ENABLE
    OperatorAction.objects.using(using).create(
        kind=kind,
        trigger_type=schedule.trigger_type,
        reason=reason,
        changed=1,
        changes=[{"field": "enabled", "old": not enabled, "new": enabled, "schedule": schedule.pk}],
        **OperatorAction.actor(person(user)),
    )
    who = person(user)
    if who is not None and apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import CHANGE, LogEntry
        from django.contrib.contenttypes.models import ContentType

        text = (gettext("Enabled") if enabled else gettext("Disabled")) + (
            f" — {reason}" if reason else ""
        )
        LogEntry.objects.using(using).create(
            user_id=who.pk,
            content_type=ContentType.objects.get_for_model(Schedule),
            object_id=str(schedule.pk),
            object_repr=str(schedule)[:200],
            action_flag=CHANGE,
            change_message=text,
        )
    signals.on_commit(
        signals.operator_action,
        Trigger,
        using=using,
        action=kind,
        user=who,
        changed=1,
        skipped=0,
        trigger_type=schedule.trigger_type,
    )


def history(schedule: Schedule, using: str = "default") -> QuerySet[OperatorAction]:
    """The disables and enables of ``schedule``, newest first."""
    kinds = [OperatorAction.Kind.DISABLE, OperatorAction.Kind.ENABLE]
    return OperatorAction.objects.using(using).filter(
        kind__in=kinds, trigger_type=schedule.trigger_type, changes__0__schedule=schedule.pk
    )


# --- what operators see -----------------------------------------------------------------


def with_outcomes(qs: QuerySet[Schedule]) -> QuerySet[Schedule]:
    """``qs`` with its last trigger's state and process_after (one query still)."""
    last = Trigger._base_manager.filter(pk=OuterRef("last_trigger_id"))
    return qs.annotate(
        last_state=Subquery(last.values("state")[:1]),
        last_after=Subquery(last.values("process_after")[:1]),
    )


def outcome(schedule: Schedule, now: datetime | None = None) -> Status | None:
    """The status of ``schedule``'s last trigger (from ``with_outcomes``); None if none or gone."""
    state = getattr(schedule, "last_state", None)
    if state is None:
        return None
    if state != State.SCHEDULED:
        return Status(state)
    after = getattr(schedule, "last_after", None)
    return Status.PENDING if after and after > (now or timezone.now()) else Status.DUE


def overdue(before: datetime, using: str = "default") -> list[Schedule]:
    """Enabled schedules whose slot came before ``before`` and made no trigger yet (the
    health check: no worker runs them, or none runs at all)."""
    rows = Schedule.objects.using(using).filter(enabled=True, next_run_at__lt=before)
    return list(rows.order_by("next_run_at"))


def triggers_of(schedule: Schedule) -> str:
    """The source prefix of ``schedule``'s triggers (a search term of the admin's list)."""
    return f"schedule${schedule.pk}$"
