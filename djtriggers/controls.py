"""Per-type controls of the workers: pausing a type, and its concurrency limit.

A paused type has a row in ``PausedType``. The claim leaves its triggers
alone, and a worker gives back (unclaimed, no try counted) those of it that it
claimed and has not started yet; the ones running finish. Workers read the
paused set at most once a second (``PausedSet``), so a pause takes effect
within about a second, and pausing and resuming wake idle workers.

A type's ``max_concurrency`` is enforced in the claim's transaction: the claim
locks the type's ``TypeSlot`` row, counts its running triggers whose lease is
live and takes at most the free slots. A claimed trigger counts as running
before it starts; a dead worker's slot is free once its lease ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext

from . import signals, wakeup
from .audit import person
from .exceptions import UnknownTriggerType
from .lifecycle import State
from .models import OperatorAction, PausedType, Trigger, TypeSlot
from .registry import trigger_classes

PERMISSION = "djtriggers.pause_trigger_type"
# How long a worker trusts the paused set it read.
PAUSED_SET_SECONDS = 1.0
REASON_MAX_LENGTH = 1000


def type_name(trigger_type: str | type[Trigger]) -> str:
    """The slug of a type given by name or class; UnknownTriggerType if no class has it."""
    name = trigger_type if isinstance(trigger_type, str) else (trigger_type.typed or "")
    if name not in trigger_classes():
        raise UnknownTriggerType(
            gettext(
                "No trigger type %(type)s: use one of %(types)s (the typed of a Trigger subclass)."
            )
            % {"type": repr(name), "types": ", ".join(sorted(trigger_classes())) or "-"}
        )
    return name


def check_permission(user: Any) -> None:
    if user is not None and not user.has_perm(PERMISSION):
        raise PermissionDenied(
            gettext("Pausing and resuming a type needs the permission %(permission)s.")
            % {"permission": PERMISSION}
        )


def pause(
    trigger_type: str | type[Trigger],
    *,
    reason: str = "",
    user: Any = None,
    using: str = "default",
) -> bool:
    """Pause a type: True if this paused it, False if it was paused already (nothing changes).

    ``user`` None is code acting on its own: no permission check, no admin log.
    """
    name = type_name(trigger_type)
    check_permission(user)
    reason = _check_reason(reason)
    who = OperatorAction.actor(person(user))
    try:
        with transaction.atomic(using=using):
            row = PausedType.objects.using(using).create(trigger_type=name, reason=reason, **who)
            _audit(OperatorAction.Kind.PAUSE, name, reason, user, using, row)
    except IntegrityError:
        return False  # paused already (perhaps a moment ago, by someone else)
    return True


def resume(
    trigger_type: str | type[Trigger],
    *,
    reason: str = "",
    user: Any = None,
    using: str = "default",
) -> bool:
    """Resume a paused type: True if this resumed it, False if it was not paused."""
    # A type whose class is gone may still be paused: resuming it is allowed.
    name = trigger_type if isinstance(trigger_type, str) else (trigger_type.typed or "")
    if not PausedType.objects.using(using).filter(trigger_type=name).exists():
        type_name(name)
    check_permission(user)
    reason = _check_reason(reason)
    with transaction.atomic(using=using):
        row = PausedType.objects.using(using).select_for_update().filter(trigger_type=name).first()
        if row is None:
            return False
        _audit(OperatorAction.Kind.RESUME, name, reason, user, using, row)
        row.delete()
    return True


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValueError(
            gettext("Shorten the reason to at most %(limit)d characters.")
            % {"limit": REASON_MAX_LENGTH}
        )
    return reason


def _audit(kind: str, name: str, reason: str, user: Any, using: str, row: PausedType) -> None:
    OperatorAction.objects.using(using).create(
        kind=kind,
        trigger_type=name,
        reason=reason,
        changed=1,
        **OperatorAction.actor(person(user)),
    )
    who = person(user)
    if who is not None and apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import ADDITION, DELETION, LogEntry
        from django.contrib.contenttypes.models import ContentType

        paused = kind == OperatorAction.Kind.PAUSE
        text = (gettext("Paused") if paused else gettext("Resumed")) + (
            f" — {reason}" if reason else ""
        )
        LogEntry.objects.using(using).create(
            user_id=who.pk,
            content_type=ContentType.objects.get_for_model(PausedType),
            object_id=str(row.pk),
            object_repr=name,
            action_flag=ADDITION if paused else DELETION,
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
        trigger_type=name,
    )
    # Idle workers look again: a resumed type's triggers start at once.
    wakeup.poke(using)


def is_paused(trigger_type: str | type[Trigger], *, using: str = "default") -> bool:
    name = trigger_type if isinstance(trigger_type, str) else (trigger_type.typed or "")
    return PausedType.objects.using(using).filter(trigger_type=name).exists()


def paused_types(using: str = "default") -> frozenset[str]:
    return frozenset(PausedType.objects.using(using).values_list("trigger_type", flat=True))


class PausedSet:
    """The paused types as a worker sees them: read again at most every PAUSED_SET_SECONDS."""

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._types: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def get(self) -> frozenset[str]:
        if self._read_at is None or monotonic() - self._read_at >= PAUSED_SET_SECONDS:
            self._types = paused_types(self.using)
            self._read_at = monotonic()
        return self._types

    def forget(self) -> None:
        """Read again next time."""
        self._read_at = None


# --- concurrency limits --------------------------------------------------------------


def limits() -> dict[str, int]:
    """The types with a ``max_concurrency``, and their limit."""
    return {
        typed: classes[0].max_concurrency
        for typed, classes in trigger_classes().items()
        if classes[0].max_concurrency is not None
    }


def ensure_slots(types: Iterable[str], using: str = "default") -> None:
    """The TypeSlot rows the claim locks (created once; a row created twice is ignored)."""
    rows = [TypeSlot(trigger_type=t) for t in sorted(types)]
    TypeSlot.objects.using(using).bulk_create(rows, ignore_conflicts=True)


def running_counts(
    types: Iterable[str], now: datetime | None = None, using: str = "default"
) -> dict[str, int]:
    """Running triggers per type whose lease is live (claimed and not yet started ones too)."""
    types = sorted(types)
    rows = (
        Trigger._base_manager.using(using)
        .filter(
            state=State.RUNNING, trigger_type__in=types, locked_until__gte=now or timezone.now()
        )
        .order_by()
        .values_list("trigger_type")
        .annotate(n=Count("pk"))
    )
    counts = dict.fromkeys(types, 0)
    counts.update(dict(rows))
    return counts


def free_slots(limited: dict[str, int], now: datetime, using: str = "default") -> dict[str, int]:
    """In the claim's transaction: how many more triggers of each limited type may start.

    Locks the types' TypeSlot rows (in one order, so claims never deadlock) until
    the transaction ends: another claim counts only after this one committed.
    """
    if not limited:
        return {}
    slots = (
        TypeSlot.objects.using(using)
        .select_for_update()
        .filter(trigger_type__in=sorted(limited))
        .order_by("trigger_type")
        .values_list("pk", flat=True)
    )
    if len(list(slots)) < len(limited):
        # A row went missing (deleted by hand): made again, then locked.
        ensure_slots(limited, using)
        list(slots.all())
    running = running_counts(limited, now, using)
    return {t: max(0, n - running[t]) for t, n in limited.items()}


# --- what operators see --------------------------------------------------------------


@dataclass
class Paused:
    """A paused type with its due backlog: how many are due, and since when the oldest."""

    row: PausedType
    due: int = 0
    oldest_due: datetime | None = None
    now: datetime = field(default_factory=timezone.now)

    @property
    def trigger_type(self) -> str:
        return self.row.trigger_type

    @property
    def oldest_due_age_seconds(self) -> float | None:
        if self.oldest_due is None:
            return None
        return max(0.0, (self.now - self.oldest_due).total_seconds())


def paused_with_backlog(now: datetime | None = None, using: str = "default") -> list[Paused]:
    """Every paused type and its due backlog, in two queries."""
    now = now or timezone.now()
    rows = list(PausedType.objects.using(using).all())
    if not rows:
        return []
    backlog = {
        trigger_type: (n, oldest)
        for trigger_type, n, oldest in Trigger._base_manager.using(using)
        .filter(
            state=State.SCHEDULED,
            process_after__lte=now,
            trigger_type__in=[row.trigger_type for row in rows],
        )
        .order_by()
        .values_list("trigger_type")
        .annotate(n=Count("pk"), oldest=Min("process_after"))
    }
    return [Paused(row, *backlog.get(row.trigger_type, (0, None)), now=now) for row in rows]
