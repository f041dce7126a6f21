"""What operators do to triggers: one table of actions, and the one way to run them.

The admin's actions and buttons, the dashboard's row and group actions, and
every form that changes ``process_after`` render from ``ACTIONS`` and act
through ``perform`` (or ``process`` for "process now"), so an action needs the
same permission, is validated the same way and leaves the same audit trail
wherever a person takes it: an ``OperatorAction`` row linked to every trigger
it changed, and an entry per trigger in Django's admin log.

``perform`` walks the selection by primary key in chunks, so a filtered set
of millions is never loaded at once; in each chunk it locks the rows it may
change (skipping rows a worker holds right now) and changes them with the
action's lifecycle transition, a conditional UPDATE.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext, ngettext_lazy, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from . import lifecycle, priorities, signals, uniqueness
from .audit import log_entries, person
from .db import retrying_transaction
from .exceptions import ProcessError, ProcessLaterError, TriggerDataMissing, UnknownTriggerType
from .lifecycle import Status
from .models import OperatorAction, Trigger
from .times import LATEST, MAX_DURATION, check_in_range, ends_in_range

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

CHUNK_SIZE = 1000
REASON_MAX_LENGTH = 1000
# Processing now runs in the web request: only for a handful of triggers.
PROCESS_NOW_LIMIT = 20

WAITING = (Status.PENDING, Status.DUE)
REVIVABLE = (Status.PENDING, Status.DUE, Status.FAILED, Status.CANCELLED)
# Whose own data (a concrete subclass's fields) an operator may correct: see corrections.py.
EDITABLE = (Status.PENDING, Status.DUE, Status.FAILED)


@dataclass(frozen=True)
class Action:
    """One thing an operator may do to triggers."""

    name: str  # also OperatorAction.kind and the admin URL's last part
    label: StrOrPromise  # a button's text
    verb: StrOrPromise  # "not reprocessed: ..."
    done: StrOrPromise  # "3 reprocessed": an ngettext_lazy counting "count"
    permission: str  # a codename of djtriggers' permissions
    statuses: tuple[Status, ...]  # the statuses it applies to; other triggers are skipped
    transition: lifecycle.Transition | None  # None: "process now" runs the trigger
    needs_time: bool = False  # asks for the new process_after
    spreads: bool = False  # may pace the triggers over a period
    confirm: bool = False  # asks before acting, even on one trigger
    needs_priority: bool = False  # asks for the new priority
    help: StrOrPromise = ""

    def allowed(self, user: Any) -> bool:
        return bool(user.has_perm(f"{Trigger._meta.app_label}.{self.permission}"))

    def applies_to(self, trigger: Trigger) -> bool:
        return trigger.status in self.statuses

    @property
    def asks(self) -> bool:
        """It needs a value (a time, a priority) before it can run: a form, not a button."""
        return self.needs_time or self.needs_priority


REPROCESS = Action(
    "reprocess",
    _("Reprocess"),
    _("reprocessed"),
    ngettext_lazy("%(count)d reprocessed", "%(count)d reprocessed", "count"),
    "reprocess_trigger",
    REVIVABLE,
    lifecycle.REVIVE,
    spreads=True,
    help=_("due now, failure state cleared, a fresh tries budget"),
)
RESCHEDULE = Action(
    "reschedule",
    _("Reschedule"),
    _("rescheduled"),
    ngettext_lazy("%(count)d rescheduled", "%(count)d rescheduled", "count"),
    "reschedule_trigger",
    REVIVABLE,
    lifecycle.REVIVE,
    needs_time=True,
    spreads=True,
    help=_("due at the time given, with a fresh tries budget"),
)
CANCEL = Action(
    "cancel",
    _("Cancel"),
    _("cancelled"),
    ngettext_lazy("%(count)d cancelled", "%(count)d cancelled", "count"),
    "cancel_trigger",
    WAITING,
    lifecycle.CANCEL,
    confirm=True,
    help=_("will not be processed (reprocess brings it back)"),
)
PROCESS = Action(
    "process",
    _("Process now"),
    _("processed now"),
    ngettext_lazy("%(count)d processed now", "%(count)d processed now", "count"),
    "reprocess_trigger",
    (Status.DUE,),
    None,
    help=format_lazy(_("runs in this request, at most {limit} triggers"), limit=PROCESS_NOW_LIMIT),
)
# The change permission: a priority is the trigger's own setting, like its data.
PRIORITY = Action(
    "priority",
    _("Change priority"),
    _("given a new priority"),
    ngettext_lazy("%(count)d given a new priority", "%(count)d given a new priority", "count"),
    "change_trigger",
    (Status.PENDING, Status.DUE, Status.FAILED),
    priorities.PRIORITIZE,
    needs_priority=True,
    help=_("0 runs first, 9 runs last"),
)
ACTIONS: dict[str, Action] = {a.name: a for a in (REPROCESS, RESCHEDULE, CANCEL, PROCESS, PRIORITY)}

# Why a trigger was left alone, by its status.
SKIP_REASONS: dict[str, StrOrPromise] = {
    Status.PENDING: _("not due yet"),
    Status.DUE: pgettext_lazy("why a trigger was skipped", "due"),
    Status.RUNNING: pgettext_lazy("why a trigger was skipped", "running"),
    Status.PROCESSED: _("already processed"),
    Status.FAILED: _("already failed"),
    Status.CANCELLED: _("already cancelled"),
}
# ... and why one that is gone was: deleted after the selection was read.
DELETED = pgettext_lazy("why a trigger was skipped", "deleted")
# ... and why one was not revived: another unfinished trigger has its unique key.
KEY_TAKEN = _("its key is taken by an unfinished trigger")


def get(name: str) -> Action:
    try:
        return ACTIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown operator action {name!r}; use one of {', '.join(ACTIONS)}."
        ) from None


def for_trigger(trigger: Trigger, user: Any) -> list[Action]:
    """The actions that apply to ``trigger`` and that ``user`` may take, in table order."""
    return [a for a in ACTIONS.values() if a.applies_to(trigger) and a.allowed(user)]


class ActionError(ValueError):
    """An action was asked for with values it cannot take; nothing was changed."""


def validate(
    action: Action,
    *,
    when: datetime | None = None,
    spread: timedelta | None = None,
    reason: str = "",
    priority: int | None = None,
) -> None:
    """Raise ActionError (saying how to fix it) unless the action can run with these values."""
    named = {"action": action.label}
    if action.needs_priority and priority is None:
        raise ActionError(gettext("%(action)s needs the new priority.") % named)
    if priority is not None:
        if not action.needs_priority:
            raise ActionError(gettext("%(action)s takes no priority.") % named)
        if not priorities.is_priority(priority):
            raise ActionError(priorities.out_of_range(priority))
    if action.needs_time and when is None:
        raise ActionError(
            gettext("%(action)s needs a time: when should the triggers be processed?") % named
        )
    if when is not None:
        if not action.needs_time:
            raise ActionError(
                gettext("%(action)s takes no time; reschedule to choose one.") % named
            )
        try:
            check_in_range(when)
        except ValueError as exc:
            raise ActionError(str(exc)) from None
    if spread is not None:
        if not action.spreads:
            raise ActionError(gettext("%(action)s cannot be spread over a period.") % named)
        if not timedelta() <= spread <= MAX_DURATION:
            raise ActionError(
                gettext("Spread over at most %(days)d days.") % {"days": MAX_DURATION.days}
            )
        if not ends_in_range(when or timezone.now(), spread):
            raise ActionError(
                gettext(
                    "Spread over %(spread)s, the last triggers would be due after the latest "
                    "time (%(latest)s UTC): choose an earlier time or a shorter period."
                )
                % {"spread": spread, "latest": f"{LATEST:%Y-%m-%d %H:%M}"}
            )
    if len(reason) > REASON_MAX_LENGTH:
        raise ActionError(
            gettext("The reason is %(length)d characters long; keep it to %(limit)d.")
            % {"length": len(reason), "limit": REASON_MAX_LENGTH}
        )


@dataclass
class Report:
    """What an action changed, and what it skipped and why."""

    action: Action
    changed: int = 0
    skipped: Counter[StrOrPromise] = field(default_factory=Counter)  # reason: how many
    audit: OperatorAction | None = None

    @property
    def kind(self) -> str:
        return self.action.name

    def message(self) -> str:
        """E.g. "3 cancelled, 2 skipped: already processed", or "…: 1 running, 1 …"."""
        text = str(self.action.done % {"count": self.changed})
        skipped = {reason: n for reason, n in self.skipped.items() if n}
        if not skipped:
            return text
        if len(skipped) == 1:
            [reasons] = [str(reason) for reason in skipped]
        else:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        total = sum(skipped.values())
        return ngettext(
            # Translators: "3 cancelled, 2 skipped: already processed".
            "%(done)s, %(count)d skipped: %(reasons)s",
            "%(done)s, %(count)d skipped: %(reasons)s",
            total,
        ) % {"done": text, "count": total, "reasons": reasons}

    def reasons(self) -> str:
        """Why triggers were skipped, e.g. "already processed, running" ("" if none were)."""
        return ", ".join(str(reason) for reason, n in self.skipped.items() if n)


def check_permission(action: Action, user: Any) -> None:
    if user is not None and not action.allowed(user):
        raise PermissionDenied(
            gettext("%(action)s needs the permission %(permission)s.")
            % {
                "action": action.label,
                "permission": f"{Trigger._meta.app_label}.{action.permission}",
            }
        )


def perform(
    action: Action | str,
    queryset: QuerySet[Any],
    *,
    user: Any = None,
    reason: str = "",
    when: datetime | None = None,
    spread: timedelta | None = None,
    priority: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Report:
    """Take ``action`` on every trigger of ``queryset`` it applies to.

    ``user`` None is code acting on its own: no permission check and no admin
    log entry. ``spread`` paces a reprocess or reschedule: the triggers become
    due one after another over that period instead of all at once. Invalid
    values raise ActionError before anything is written; if the database fails
    midway, the audit row still says exactly what was changed.
    """
    action = get(action) if isinstance(action, str) else action
    if action.transition is None:
        raise ValueError(f"{action.label} runs triggers: use actions.process().")
    check_permission(action, user)
    validate(action, when=when, spread=spread, reason=reason, priority=priority)
    transition = action.transition
    report = Report(action)
    total = queryset.count() if spread else 0
    audit = OperatorAction.objects.create(
        kind=action.name,
        **OperatorAction.actor(person(user)),
        reason=reason,
        process_after=when,
        spread=spread,
        priority=priority,
    )
    report.audit = audit
    start = when or timezone.now()
    # Pacing steps: with N triggers over a period, one step per trigger (up to
    # 1000 steps, each a chunk of its own).
    if spread and total:
        chunk_size = max(1, -(-total // min(total, 1000)))
    seen = 0
    try:
        for pks in _chunks(queryset, chunk_size):
            now = timezone.now()
            if transition is lifecycle.CANCEL:
                params: dict[str, Any] = {"now": now}
            elif transition is priorities.PRIORITIZE:
                params = {"priority": priority}
            else:
                offset = spread * (seen / total) if spread and total else timedelta()
                params = {"when": start + offset}
            seen += len(pks)
            changed, skipped = retrying_transaction(
                queryset.db,
                functools.partial(
                    _change, action, transition, pks, audit, queryset.db, now, params
                ),
            )
            report.changed += changed
            report.skipped.update(skipped)
    finally:
        audit.changed = report.changed
        audit.skipped = sum(report.skipped.values())
        audit.save(update_fields=["changed", "skipped"])
        log_entries(audit, report.message(), user)
        _announce(action, queryset.db, user, report.changed, sum(report.skipped.values()))
    return report


def _change(
    action: Action,
    transition: lifecycle.Transition,
    pks: list[Any],
    audit: OperatorAction,
    using: str,
    now: datetime,
    params: dict[str, Any],
) -> tuple[int, Counter[StrOrPromise]]:
    """One chunk of ``perform``, in its transaction: how many changed, and why others did not.

    Locks the rows it may change, skipping those a worker holds right now.
    """
    skipped: Counter[StrOrPromise] = Counter()
    base = Trigger._base_manager.using(using)
    rows = base.filter(pk__in=pks).select_for_update(skip_locked=True)
    statuses = {
        pk: lifecycle.status_of(
            state, date_processed=done, successful=ok, process_after=after, now=now
        )
        for pk, state, done, ok, after in rows.values_list(
            "pk", "state", "date_processed", "successful", "process_after"
        )
    }
    missing = len(pks) - len(statuses)
    if missing:
        # Missing from what the lock read: rows a worker holds in its
        # transaction (SKIP LOCKED passed them: running) and rows deleted since
        # the chunk was read. A read without a lock still sees a held row, not
        # a deleted one: under READ COMMITTED (PostgreSQL's default, and
        # Django's on MySQL and MariaDB) each statement sees the latest commit.
        # SQLite has no row locks: there, every missing row was deleted.
        held = base.filter(pk__in=pks).exclude(pk__in=list(statuses)).count()
        if held:  # pragma: no cover - no row locks on SQLite
            skipped[SKIP_REASONS[Status.RUNNING]] += held
        if missing > held:  # pragma: no branch - without row locks, always
            skipped[DELETED] += missing - held
    eligible = [pk for pk, status in statuses.items() if status in action.statuses]
    for status in statuses.values():
        if status not in action.statuses:
            skipped[SKIP_REASONS[status]] += 1
    if transition is lifecycle.REVIVE and eligible:
        # One unfinished trigger per key (uniqueness.py): a finished one whose key is
        # taken again stays finished, rather than the database refusing the chunk.
        taken = uniqueness.blocked(base, eligible)
        skipped[KEY_TAKEN] += len(taken)
        eligible = [pk for pk in eligible if pk not in taken]
    if not eligible:
        return 0, skipped
    still = functools.reduce(operator.or_, (lifecycle.status_q(s, now) for s in action.statuses))
    changed = transition.apply(base.filter(Q(pk__in=eligible) & still), **params)
    link = OperatorAction.triggers.through
    link.objects.using(using).bulk_create(
        [link(operatoraction_id=audit.pk, trigger_id=pk) for pk in eligible]
    )
    return changed, skipped


def _announce(action: Action, using: str, user: Any, changed: int, skipped: int) -> None:
    signals.on_commit(
        signals.operator_action,
        Trigger,
        using=using,
        action=action.name,
        user=person(user),
        changed=changed,
        skipped=skipped,
    )


def process(
    queryset: QuerySet[Any], *, user: Any = None, reason: str = ""
) -> list[tuple[Trigger, str, bool | None]]:
    """Process now: run up to PROCESS_NOW_LIMIT triggers in this process.

    Returns, per trigger, what happened and whether it went well (None: it did
    not run). Those that ran are audited as one action.
    """
    check_permission(PROCESS, user)
    validate(PROCESS, reason=reason)
    triggers = list(queryset.order_by("pk")[: PROCESS_NOW_LIMIT + 1])
    if len(triggers) > PROCESS_NOW_LIMIT:
        raise ActionError(
            gettext(
                "Processing now runs in this request: select at most %(limit)d "
                "triggers, or reprocess them for the workers."
            )
            % {"limit": PROCESS_NOW_LIMIT}
        )
    outcomes = [(trigger, *_process_one(trigger)) for trigger in triggers]
    ran = [trigger for trigger, _, ok in outcomes if ok is not None]
    if ran:
        report = Report(PROCESS, changed=len(ran))
        report.audit = OperatorAction.objects.create(
            kind=PROCESS.name, **OperatorAction.actor(person(user)), reason=reason, changed=len(ran)
        )
        report.audit.triggers.add(*ran)
        lines = {t.pk: f"{PROCESS.verb.capitalize()}: {text}" for t, text, _ in outcomes}
        log_entries(report.audit, report.message(), user, messages=lines)
        _announce(PROCESS, queryset.db, user, len(ran), len(triggers) - len(ran))
    return outcomes


def _process_one(trigger: Trigger) -> tuple[str, bool | None]:
    """Process one trigger: how it went, and True/False if it ran (None if it did not)."""
    state, process_after = trigger.state, trigger.process_after
    try:
        trigger.process()
    except ProcessLaterError as exc:  # not due: nothing ran
        when = f"{exc.process_after:%Y-%m-%d %H:%M:%S}"
        text = gettext("not due until %(when)s; reprocess it to make it due now")
        return text % {"when": when}, None
    except ProcessError as exc:
        text = gettext("failed (%(error)s); try %(number)d recorded")
        return text % {"error": exc, "number": trigger.number_of_tries}, False
    except (UnknownTriggerType, TriggerDataMissing) as exc:
        return gettext("not processed: %(error)s") % {"error": exc}, None
    except Trigger.DoesNotExist:
        return gettext("not processed: it was deleted meanwhile"), None
    if trigger.state == lifecycle.State.PROCESSED and state != lifecycle.State.PROCESSED:
        return gettext("processed"), True
    if trigger.state == lifecycle.State.SCHEDULED and trigger.process_after != process_after:
        when = f"{trigger.process_after:%Y-%m-%d %H:%M:%S}"
        return gettext("asked to run again at %(when)s") % {"when": when}, True
    if trigger.state in (lifecycle.State.SCHEDULED, lifecycle.State.RUNNING):
        return gettext("left alone: a worker is processing it"), None
    return gettext("left alone: %(reason)s") % {"reason": SKIP_REASONS[trigger.status]}, None


def _chunks(queryset: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """The primary keys of ``queryset`` in ascending chunks (keyset pagination)."""
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = list((pks if last is None else pks.filter(pk__gt=last))[:size])
        if not page:
            return
        yield page
        last = page[-1]
