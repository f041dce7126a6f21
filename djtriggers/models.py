from __future__ import annotations

import copy
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from django.apps import apps as django_apps
from django.db import models
from django.db.models.signals import class_prepared
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import lifecycle, priorities, uniqueness, wakeup
from .conf import settings
from .exceptions import TriggerDataMissing
from .fields import DisplayableDateTimeField
from .lifecycle import State, Status
from .loggers import get_logger
from .loggers.base import TriggerLogger
from .querysets import TriggerManager
from .times import check_in_range

__all__ = [
    "OperatorAction",
    "PausedType",
    "Schedule",
    "State",
    "Status",
    "Trigger",
    "TriggerAttempt",
    "TriggerResult",
    "Worker",
]


class Trigger(models.Model):
    """A persistent trigger that is processed once it is due.

    Subclass it, optionally set ``typed`` (a unique slug; the default is
    ``app_label.modelname``) and implement ``_process``. Make the subclass a
    proxy when it needs no data of its own, a regular model when it does.
    ``source`` is free-form text naming what the trigger is about; see
    ``set_source``.
    """

    # The slug stored in ``trigger_type``; None only on the base class.
    typed: ClassVar[str | None] = None

    # Per-class overrides of the retry settings (None: use the DJTRIGGERS_ setting).
    max_tries: ClassVar[int | None] = None
    retry_delay_seconds: ClassVar[float | None] = None
    retry_max_delay_seconds: ClassVar[float | None] = None
    # Per-class override of DJTRIGGERS_TIMEOUT_SECONDS (None: use the setting).
    timeout_seconds: ClassVar[float | None] = None
    # At most this many triggers of the type run at once, over all workers (None:
    # no limit); see controls.py.
    max_concurrency: ClassVar[int | None] = None
    # A recurring schedule (see schedules.py): a cron expression, e.g. "*/15 * * * *",
    # read on the clock of schedule_timezone (None: TIME_ZONE). Only the class that
    # sets it is scheduled (a subclass declares its own). schedule_catch_up: "one"
    # (one run for all missed slots) or "none" (skip missed slots).
    schedule: ClassVar[str | None] = None
    schedule_timezone: ClassVar[str | None] = None
    schedule_catch_up: ClassVar[str] = "one"

    # The priority of the class's triggers unless one is given: 0 (runs first) to 9
    # (runs last); see priorities.py.
    default_priority: ClassVar[int] = priorities.DEFAULT
    # At most one unfinished trigger per key: True (the source) or field names;
    # see uniqueness.py.
    unique_key: ClassVar[bool | tuple[str, ...]] = False

    # Slug (class name) of the logger from DJTRIGGERS_LOGGERS used by default.
    _logger_class: ClassVar[str | None] = None

    # 32-bit ids, as in 2.x: upgrading does not rewrite the table and its subclass tables.
    id = models.AutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name=_("ID")
    )
    trigger_type = models.CharField(_("trigger type"), max_length=100)
    source = models.CharField(_("source"), max_length=250, null=True, blank=True, db_index=True)
    date_received = DisplayableDateTimeField(_("date received"), default=timezone.now)
    date_processed = DisplayableDateTimeField(_("date processed"), null=True, blank=True)
    # Defaults to now, so due triggers are ordered and found by one index range
    # scan; None is still accepted and means "due now".
    process_after = DisplayableDateTimeField(
        _("process after"), default=timezone.now, null=True, blank=True
    )
    number_of_tries = models.IntegerField(_("number of tries"), default=0)
    successful = models.BooleanField(_("successful"), default=None, null=True)

    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.SCHEDULED
    )
    last_error = models.TextField(_("last error"), blank=True, default="")
    # Groups failures that are alike (see fingerprints.py), for the dashboard.
    error_fingerprint = models.CharField(
        _("error fingerprint"), max_length=16, blank=True, default=""
    )
    # The claim of a worker: who holds the trigger and until when.
    locked_by = models.CharField(_("locked by"), max_length=100, null=True, blank=True)
    locked_until = DisplayableDateTimeField(_("locked until"), null=True, blank=True)
    # Set when a worker was lost while this trigger was in its group: from then
    # on it runs in a transaction of its own (see lifecycle.LOSE).
    run_alone = models.BooleanField(_("run alone"), default=False)
    # 0 runs first, 9 last (priorities.py); rows inserted without one (raw SQL) get 5.
    priority = models.SmallIntegerField(
        _("priority"),
        default=priorities.DEFAULT,
        db_default=priorities.DEFAULT,
        help_text=_("0 runs first, 9 runs last."),
    )
    # One trigger per key (uniqueness.py): the key, and the key while unfinished,
    # which a unique index covers.
    trigger_key = models.CharField(
        _("unique key"), max_length=uniqueness.KEY_LENGTH, null=True, blank=True, editable=False
    )
    unfinished_key = models.GeneratedField(
        expression=models.Case(
            models.When(state__in=[State.SCHEDULED, State.RUNNING], then=models.F("trigger_key")),
            default=None,
        ),
        output_field=models.CharField(max_length=uniqueness.KEY_LENGTH, null=True),
        db_persist=True,
        verbose_name=_("unfinished key"),
    )

    objects = TriggerManager()

    # The state the row had when read (see save()); None for a new trigger.
    _loaded_state: str | None = None

    class Meta:
        ordering = ["-id"]
        verbose_name = _("trigger")
        verbose_name_plural = _("triggers")
        # Stored in the database (auth's Permission.name) as they are, like Django's own.
        permissions = [
            ("reprocess_trigger", "Can reprocess triggers (and process them now)"),
            ("reschedule_trigger", "Can reschedule triggers"),
            ("cancel_trigger", "Can cancel triggers"),
        ]
        indexes = [
            # pending / due / running and the claim query; with the type, the
            # dashboard's counts per type read the index alone.
            models.Index(
                fields=["state", "process_after", "trigger_type"],
                name="djtriggers_state_after_type",
            ),
            # failed / processed / cancelled, newest first, and cleaning; with the
            # type and process_after, the dashboard's lags read the index alone.
            models.Index(
                fields=["state", "date_processed", "trigger_type", "process_after"],
                name="djtriggers_state_processed_lag",
            ),
            # A type's triggers in a state; the oldest due of a type in one step.
            models.Index(
                fields=["trigger_type", "state", "process_after", "date_received"],
                name="djtriggers_type_state_after",
            ),
            # The dashboard's failure groups. MariaDB has no partial indexes: its
            # copy holds every state (counts.failure_groups steps into it alike).
            models.Index(
                fields=["trigger_type", "error_fingerprint", "date_processed", "id"],
                condition=models.Q(state="failed"),
                name="djtriggers_failed_groups",
            ),
            # The claim, one priority at a time (see priorities.py).
            models.Index(
                fields=["state", "priority", "process_after", "trigger_type"],
                name="djtriggers_claim_priority",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    priority__gte=priorities.HIGHEST, priority__lte=priorities.LOWEST
                ),
                name="djtriggers_priority_range",
            ),
            # One unfinished trigger per key (uniqueness.py); NULLs never conflict.
            models.UniqueConstraint(
                fields=["trigger_type", "unfinished_key"], name="djtriggers_unique_key"
            ),
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.typed and not self.trigger_type:
            self.trigger_type = self.typed
        if not args and "priority" not in kwargs:
            self.priority = self.default_priority

    def __str__(self) -> str:
        return f"{self.trigger_type} #{self.pk}"

    def __repr__(self) -> str:
        processed = "" if self.date_processed else "not "
        return f"Trigger {self.pk} of type {self.trigger_type} ({processed}processed)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # What the database does to a row saved the 2.x way (see lifecycle.settle),
        # done here too so that the instance agrees with its row.
        lifecycle.settle_instance(
            self, before=None if self._state.adding else self._loaded_state, now=timezone.now()
        )
        if self._state.adding:
            uniqueness.fill(self)
        super().save(*args, **kwargs)
        self._loaded_state = self.state
        if self.state == State.SCHEDULED:
            wakeup.poke(self._state.db or "default", self.process_after)

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Any:
        instance = super().from_db(db, field_names, values)
        instance._loaded_state = instance.__dict__.get("state")
        return instance

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._loaded_state = self.__dict__.get("state")

    # --- source --------------------------------------------------------------

    def set_source(self, *args: object) -> None:
        """Store ``args`` as the source, joined with ``$`` (e.g. model name and pk)."""
        self.source = "$".join(str(arg) for arg in args)

    def get_source(self) -> tuple[str, ...]:
        return tuple(part for part in (self.source or "").split("$") if part != "")

    # --- status --------------------------------------------------------------

    @property
    def status(self) -> Status:
        """One of ``Status``: pending, due, running, failed, processed or cancelled.

        Set ``date_processed`` (and ``successful``) the 2.x way, and the status follows.
        """
        return lifecycle.status_of(
            self.state,
            date_processed=self.date_processed,
            successful=self.successful,
            process_after=self.process_after,
            now=timezone.now(),
            before=self._loaded_state,
        )

    # --- typing --------------------------------------------------------------

    def as_typed(self) -> Trigger:
        """This trigger as an instance of the class registered for its type.

        A row read through ``Trigger.objects`` becomes e.g. a ``PayBill`` with its
        own fields loaded. Raises ``UnknownTriggerType`` for an unregistered type.
        """
        from .registry import trigger_class

        cls = trigger_class(self.trigger_type)
        if type(self) is cls:
            return self
        if cls._meta.concrete_model is type(self)._meta.concrete_model:
            # A proxy of the same table: same fields, only the class differs.
            typed = copy.copy(self)
            typed.__class__ = cls
            typed.__dict__.pop("logger", None)
            return typed
        try:
            return cls._base_manager.using(self._state.db).get(pk=self.pk)
        except cls.DoesNotExist:
            raise TriggerDataMissing(self, cls) from None

    # --- processing ----------------------------------------------------------

    def _process(self, dictionary: dict[str, Any]) -> Any:
        """Do the trigger's work. Override this.

        It runs inside a transaction with the trigger's completion, so its
        database writes commit if and only if the trigger is marked processed;
        use ``transaction.on_commit`` for side effects outside the database.
        Raise ``ProcessLaterError(when)`` to run again at ``when``; any other
        exception is a failed try, retried with backoff. The return value is
        handed to the trigger's logger (``DatabaseLogger`` stores it).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _process(dictionary).")

    def process(
        self,
        force: bool = False,
        logger: str | None = None,
        dictionary: dict[str, Any] | None = None,
    ) -> None:
        """Process the trigger now, in this process.

        Does nothing if the trigger is already processed (or being processed by a
        worker) unless ``force``. Raises ``ProcessLaterError`` if it is not due
        yet unless ``force``. If ``_process`` raises, the failed try is recorded
        and ``ProcessError`` is raised, with the original exception as its cause.
        """
        from .engine import process_now

        if self.pk is None:
            self.save()
        process_now(self, force=force, logger=logger, dictionary=dictionary)

    @cached_property
    def logger(self) -> TriggerLogger:
        return get_logger(self._logger_class) if self._logger_class else TriggerLogger()

    def get_timeout(self) -> float | None:
        """Seconds a try may run before a worker interrupts it (None: no limit)."""
        return self.timeout_seconds or settings.TIMEOUT_SECONDS

    def get_max_tries(self) -> int:
        return self.max_tries or settings.TRIES_BEFORE_ERROR

    def get_retry_delay(self, tries: int) -> timedelta:
        """How long to wait before try ``tries + 1``: exponential backoff with jitter.

        Override it for a schedule of your own; the class attributes
        ``retry_delay_seconds`` and ``retry_max_delay_seconds`` override the settings.
        """
        base = self.retry_delay_seconds
        cap = self.retry_max_delay_seconds
        return lifecycle.retry_delay(
            tries,
            base=settings.RETRY_DELAY_SECONDS if base is None else base,
            backoff=settings.RETRY_BACKOFF,
            cap=settings.RETRY_MAX_DELAY_SECONDS if cap is None else cap,
            jitter=settings.RETRY_JITTER,
        )

    # --- operator operations -------------------------------------------------
    # Each is one transition of the lifecycle (a conditional UPDATE) and reports
    # whether the row changed; the instance is updated to match. They are for
    # code: what a person does in the admin or the dashboard goes through
    # djtriggers.actions, which checks permissions and keeps the audit trail.

    def reprocess(self) -> bool:
        """Make the trigger due now with a fresh tries budget."""
        return self.reschedule(timezone.now())

    def reschedule(self, when: datetime) -> bool:
        """Make the trigger due at ``when`` with a fresh tries budget."""
        return self._transition(lifecycle.REVIVE, when=check_in_range(when))

    def cancel(self) -> bool:
        """Cancel the trigger if it is waiting (pending or due)."""
        return self._transition(lifecycle.CANCEL, now=timezone.now())

    # Pausing the type, for code; controls.py does it (and keeps the audit trail).

    @classmethod
    def pause(cls, reason: str = "", user: Any = None) -> bool:
        """Workers stop starting triggers of this type; False if it was paused already."""
        from . import controls  # controls builds on the models

        return controls.pause(cls, reason=reason, user=user)

    @classmethod
    def resume(cls, user: Any = None, reason: str = "") -> bool:
        """Workers start this type's triggers again; False if it was not paused."""
        from . import controls

        return controls.resume(cls, user=user, reason=reason)

    @classmethod
    def is_paused(cls) -> bool:
        from . import controls

        return controls.is_paused(cls)

    def _transition(self, transition: lifecycle.Transition, **params: Any) -> bool:
        qs = Trigger._base_manager.using(self._state.db or "default").filter(pk=self.pk)
        values = transition.values(**params)
        changed = transition.apply(qs, **params) == 1
        if changed:
            for name, value in values.items():
                setattr(self, name, value)
        else:
            self.refresh_from_db(fields=list(values))
        return changed


@receiver(class_prepared)
def _derive_typed(sender: type[models.Model], **kwargs: Any) -> None:
    """Give every concrete or proxy subclass without its own ``typed`` a default one."""
    if (
        issubclass(sender, Trigger)
        and sender is not Trigger
        and not sender._meta.abstract
        and "typed" not in sender.__dict__
    ):
        sender.typed = sender._meta.label_lower


class TriggerResult(models.Model):
    """What ``_process`` returned, stored by ``DatabaseLogger``."""

    id = models.AutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name=_("ID")
    )
    trigger = models.ForeignKey(
        Trigger, on_delete=models.CASCADE, related_name="results", verbose_name=_("trigger")
    )
    result = models.TextField(_("result"))
    date_created = models.DateTimeField(_("date created"), default=timezone.now)

    class Meta:
        verbose_name = _("trigger result")
        verbose_name_plural = _("trigger results")

    def __str__(self) -> str:
        return self.result

    def __repr__(self) -> str:
        return self.result


class TriggerAttempt(models.Model):
    """One try at processing a trigger: when, where, and how it ended."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Succeeded")
        FAILURE = "failure", _("Failed")
        LATER = "later", _("Rescheduled")

    trigger = models.ForeignKey(
        Trigger, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("trigger")
    )
    number = models.PositiveIntegerField(
        _("number"), help_text=_("The try this attempt was (1 for the first).")
    )
    worker = models.CharField(_("worker"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    exception_class = models.CharField(_("exception class"), max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)

    class Meta:
        verbose_name = _("trigger attempt")
        verbose_name_plural = _("trigger attempts")
        ordering = ["-started_at", "-id"]
        # The dashboard's throughput chart reads the last hour.
        # The dashboard's throughput per minute reads the index alone.
        indexes = [
            models.Index(fields=["finished_at", "outcome"], name="djtriggers_attempt_outcomes")
        ]

    def __str__(self) -> str:
        return gettext("%(trigger)s try %(number)s: %(outcome)s") % {
            "trigger": self.trigger_id,
            "number": self.number,
            "outcome": self.outcome,
        }

    @property
    def duration(self) -> timedelta:
        return self.finished_at - self.started_at


class Worker(models.Model):
    """The heartbeat row of a running ``run_triggers`` (or ``process_triggers``) process."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    host = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("pid"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    processed = models.PositiveBigIntegerField(_("processed"), default=0)
    failed = models.PositiveBigIntegerField(_("failed"), default=0)
    current_trigger_id = models.BigIntegerField(_("current trigger id"), null=True, blank=True)

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Counter(models.Model):
    """A part of a count kept by database triggers (see ``counts.py``): a count is
    the sum of its rows' ``n``, over the slots."""

    # The server-side id of the connection that wrote (0: merged by counts.fold).
    slot = models.BigIntegerField(_("slot"))
    n = models.BigIntegerField(_("count"))

    class Meta:
        abstract = True


class TriggerCount(Counter):
    """Part of the number of triggers of one type in one state (see ``counts.py``).

    Written by database triggers only; a count is the sum of its rows' ``n``.
    """

    trigger_type = models.CharField(_("trigger type"), max_length=100)
    state = models.CharField(_("state"), max_length=16)
    # Failed triggers: their error's fingerprint; scheduled ones: the hour their
    # process_after falls in; processed ones: the minute of date_processed (see
    # counts.TRIGGERS). Empty and 0 otherwise.
    fingerprint = models.CharField(_("error fingerprint"), max_length=16, default="")
    bucket = models.BigIntegerField(_("hour or minute"), default=0)

    class Meta:
        verbose_name = _("trigger count")
        verbose_name_plural = _("trigger counts")
        constraints = [
            models.UniqueConstraint(
                fields=["trigger_type", "state", "fingerprint", "bucket", "slot"],
                name="djtriggers_count_key",
            )
        ]
        # The dashboard reads one state's counters (and a range of its buckets):
        # along an index, its cost does not follow the table's size on disk, which
        # a bulk load of history leaves large after the fold has merged its rows.
        indexes = [models.Index(fields=["state", "bucket"], name="djtriggers_count_buckets")]

    def __str__(self) -> str:
        return f"{self.trigger_type} {self.state}: {self.n}"


class AttemptCount(Counter):
    """Part of the number of tries with one outcome that finished in one minute
    (see ``counts.py``): the dashboard's throughput. Written by database triggers only."""

    outcome = models.CharField(_("outcome"), max_length=10)
    # Minutes since 1970 (counts.PAST: merged by counts.fold, long gone by).
    minute = models.BigIntegerField(_("minute"))

    class Meta:
        verbose_name = _("attempt count")
        verbose_name_plural = _("attempt counts")
        constraints = [
            models.UniqueConstraint(
                fields=["outcome", "minute", "slot"], name="djtriggers_attempt_count_key"
            )
        ]
        # The throughput chart reads the last hour's minutes.
        indexes = [models.Index(fields=["minute"], name="djtriggers_attempt_minutes")]

    def __str__(self) -> str:
        return f"{self.outcome} in minute {self.minute}: {self.n}"


class OperatorAction(models.Model):
    """One operator action on one or many triggers: the audit trail."""

    class Kind(models.TextChoices):
        REPROCESS = "reprocess", _("Reprocess")
        RESCHEDULE = "reschedule", _("Reschedule")
        CANCEL = "cancel", _("Cancel")
        PROCESS = "process", _("Process now")
        EDIT = "edit", _("Edit")
        # Issue 10's operator controls: a type paused and resumed, a priority changed,
        # a schedule disabled and enabled.
        PAUSE = "pause", _("Pause")
        RESUME = "resume", _("Resume")
        PRIORITY = "priority", _("Change priority")
        DISABLE = "disable", _("Disable schedule")
        ENABLE = "enable", _("Enable schedule")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # The type an action on a whole type was about (pause, resume).
    trigger_type = models.CharField(_("trigger type"), max_length=100, blank=True)
    # Who acted, as text rather than a foreign key: the core needs no auth app
    # (a worker-only service has none), and the audit outlives the user.
    user_pk = models.CharField(_("user pk"), max_length=64, blank=True)
    username = models.CharField(_("username"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    process_after = models.DateTimeField(_("process after"), null=True, blank=True)
    spread = models.DurationField(_("spread"), null=True, blank=True)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    # An edit's fields with their old and new values as shown ([{"field", "old", "new"}]).
    changes = models.JSONField(_("changes"), default=list, blank=True)
    # A priority change's new priority.
    priority = models.SmallIntegerField(_("priority"), null=True, blank=True)
    triggers = models.ManyToManyField(
        Trigger, related_name="operator_actions", blank=True, verbose_name=_("triggers")
    )

    class Meta:
        verbose_name = _("operator action")
        verbose_name_plural = _("operator actions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return gettext("%(action)s by %(user)s at %(time)s") % {
            "action": self.get_kind_display(),
            "user": self.username or gettext("someone"),
            "time": f"{self.created_at:%Y-%m-%d %H:%M}",
        }

    @property
    def user(self) -> Any:
        """The user who acted, if they still exist (one query): ``username`` is cheaper."""
        if not self.user_pk or not django_apps.is_installed("django.contrib.auth"):
            return None
        from django.contrib.auth import get_user_model

        return get_user_model()._default_manager.filter(pk=self.user_pk).first()

    @user.setter
    def user(self, user: Any) -> None:
        self.user_pk, self.username = self.actor(user).values()

    @staticmethod
    def actor(user: Any) -> dict[str, str]:
        """The fields that record ``user`` (None: nobody)."""
        if user is None or user.pk is None:
            return {"user_pk": "", "username": ""}
        return {"user_pk": str(user.pk), "username": user.get_username()}


class PausedType(models.Model):
    """A trigger type the workers do not start (see controls.py): one row while it is paused."""

    trigger_type = models.CharField(_("trigger type"), max_length=100, unique=True)
    paused_at = models.DateTimeField(_("paused at"), default=timezone.now)
    # Who paused it, as text like OperatorAction's.
    user_pk = models.CharField(_("user pk"), max_length=64, blank=True)
    username = models.CharField(_("username"), max_length=150, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("paused type")
        verbose_name_plural = _("paused types")
        ordering = ["trigger_type"]
        permissions = [("pause_trigger_type", "Can pause and resume trigger types")]

    def __str__(self) -> str:
        return self.trigger_type


class TypeSlot(models.Model):
    """One row per type with a ``max_concurrency``: the claim locks it while it counts
    the type's running triggers, so two workers never both take the last free slot."""

    trigger_type = models.CharField(_("trigger type"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("type slot")
        verbose_name_plural = _("type slots")

    def __str__(self) -> str:
        return self.trigger_type


class Schedule(models.Model):
    """A recurring schedule: the workers create one trigger of its type per slot (see schedules.py).

    A class's ``schedule`` makes a declared row (one per type, kept in step with
    the class by ``schedules.sync``); operators add others in the admin.
    """

    class CatchUp(models.TextChoices):
        ONE = "one", _("One run for all missed slots")
        NONE = "none", _("Skip missed slots")

    trigger_type = models.CharField(_("trigger type"), max_length=100)
    expression = models.CharField(
        _("cron expression"),
        max_length=100,
        help_text=_("Five fields: minute hour day-of-month month day-of-week (e.g. */15 * * * *)."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        help_text=_("An IANA name such as Europe/Brussels: the slots are read on its clock."),
    )
    catch_up = models.CharField(
        _("catch-up"),
        max_length=4,
        choices=CatchUp.choices,
        default=CatchUp.ONE,
        help_text=_("What happens to the slots missed while no worker ran."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # True: declared by the type's class (one such row per type, a unique key);
    # None: added by an operator (NULLs are distinct, so any number of them).
    declared = models.BooleanField(_("declared by its class"), null=True, default=None)
    # The next slot, in UTC (None while disabled).
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    # The last slot that made a trigger, and that trigger (no foreign key: cleaning
    # deletes finished triggers).
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_trigger_id = models.IntegerField(_("last trigger"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["trigger_type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trigger_type", "declared"], name="djtriggers_schedule_declared"
            )
        ]
        # Every worker asks for the due enabled schedules: one step down this index.
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="djtriggers_schedule_due")]

    def __str__(self) -> str:
        return f"{self.trigger_type} ({self.expression}, {self.time_zone})"
