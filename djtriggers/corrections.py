"""Correcting a trigger's own data, then retrying it: the one race-safe write and its audit.

A concrete subclass (``PayBill`` with ``amount`` and ``recipient``) keeps data
of its own; when a trigger failed because that data was wrong, an operator
corrects it and reprocesses the trigger. ``save`` does both in one transaction:
it locks the trigger's row, skipping it if a worker holds it right now, checks
that its status allows an edit (``actions.EDITABLE``: pending, due or failed),
writes only the fields named, records an ``OperatorAction`` of kind ``edit``
with each field's old and new value (as shown: a foreign key by its ``str``),
and then reprocesses through ``actions.perform``, which checks its own
permission and audits it as every reprocess is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext

from . import actions, lifecycle, signals
from .audit import log_entries, person
from .db import retrying_transaction
from .lifecycle import Status
from .models import OperatorAction, Trigger

__all__ = ["Correction", "NotEditable", "editable", "own_fields", "save"]


class NotEditable(actions.ActionError):
    """The trigger's data cannot be corrected now (a worker holds it, or its status).

    Nothing was changed."""


@dataclass
class Correction:
    """What ``save`` changed: ``changes`` as (field name, old, new), and the reprocess's report."""

    model: type[Trigger]
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    audit: OperatorAction | None = None
    reprocessed: actions.Report | None = None

    def message(self) -> str:
        """E.g. "Amount: 1500 → 150; 1 reprocessed" (or "No changes; 1 reprocessed")."""
        fields = [{"field": name, "old": old, "new": new} for name, old, new in self.changes]
        text = describe(self.model, fields) or gettext("No changes")
        return f"{text}; {self.reprocessed.message()}" if self.reprocessed else text


def own_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The fields a concrete subclass adds to ``Trigger``: its own data (none for proxies).

    Not the link to the parent row, and not many-to-many fields (no column of the row).
    """
    inherited = {f.name for f in Trigger._meta.concrete_fields}
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in inherited and not (f.remote_field and f.remote_field.parent_link)
    ]


def editable(trigger: Trigger) -> bool:
    """Whether the trigger's status allows correcting its own data (``actions.EDITABLE``)."""
    return trigger.status in actions.EDITABLE


def editable_statuses() -> str:
    """The statuses of ``actions.EDITABLE`` as a person reads them: "pending, due, failed"."""
    return ", ".join(str(status.label).lower() for status in actions.EDITABLE)


def shown(value: Any) -> str:
    """A value as the audit keeps it: what a person reads (a foreign key: its ``str``)."""
    return "" if value is None else str(value)


def check_permission(model: type[Trigger], user: Any) -> None:
    """The model's change permission: the one its admin page asks for."""
    opts = model._meta
    codename = get_permission_codename("change", opts)
    if user is not None and not user.has_perm(f"{opts.app_label}.{codename}"):
        raise PermissionDenied(
            gettext("Correcting its data needs the permission %(permission)s.")
            % {"permission": f"{opts.app_label}.{codename}"}
        )


def lock(trigger: Trigger) -> Status:
    """Lock the trigger's row in the current transaction; its status, or NotEditable.

    A row a worker holds right now is skipped (SKIP LOCKED), and so refused.
    """
    using = trigger._state.db or "default"
    base = Trigger._base_manager.using(using)
    # Outside a transaction, the lock ends with this block: a check only.
    with transaction.atomic(using=using):
        row = (
            base.select_for_update(skip_locked=True)
            .filter(pk=trigger.pk)
            .values_list("state", "date_processed", "successful", "process_after")
            .first()
        )
    if row is None:
        if base.filter(pk=trigger.pk).exists():  # pragma: no cover - no row locks on SQLite
            raise NotEditable(
                gettext(
                    "A worker is processing this trigger right now: nothing was changed. "
                    "Try again once it is done."
                )
            )
        raise NotEditable(gettext("This trigger was deleted meanwhile: nothing was changed."))
    state, done, ok, after = row
    status = lifecycle.status_of(
        state, date_processed=done, successful=ok, process_after=after, now=timezone.now()
    )
    if status not in actions.EDITABLE:
        raise NotEditable(
            gettext(
                "This trigger is %(status)s now: its data can be corrected only while it is "
                "%(statuses)s. Nothing was changed."
            )
            % {
                "status": str(status.label).lower(),
                "statuses": editable_statuses(),
            }
        )
    return status


def save(
    trigger: Trigger,
    fields: Iterable[str],
    *,
    user: Any = None,
    reprocess: bool = False,
) -> Correction:
    """Write the trigger's own ``fields`` as they are on the instance, audited; then reprocess.

    One transaction: the row is locked first, so a worker can neither be running
    the trigger nor claim it until the correction (and the reprocess) commit.
    ``user`` None is code acting on its own (no permission check, no admin log
    entry). Raises NotEditable (nothing changed) if a worker holds the trigger
    or its status allows no edit, PermissionDenied without the model's change
    permission (or the reprocess permission, with ``reprocess``), and
    ValueError for a field that is not the trigger's own.
    """
    model = type(trigger)
    own = {f.name: f for f in own_fields(model)}
    names = list(dict.fromkeys(fields))
    unknown = [name for name in names if name not in own]
    if unknown:
        raise ValueError(
            f"{model.__name__} has no own field {', '.join(map(repr, unknown))}: only "
            f"{', '.join(own) or 'none'} can be corrected (the system fields belong to the engine)."
        )
    check_permission(model, user)
    if reprocess:
        actions.check_permission(actions.REPROCESS, user)
    using = trigger._state.db or "default"
    # Again from the start if the database breaks a deadlock: nothing happens outside it.
    return retrying_transaction(
        using, functools.partial(_save, trigger, names, user=user, reprocess=reprocess)
    )


def _save(trigger: Trigger, names: list[str], *, user: Any, reprocess: bool) -> Correction:
    """``save``'s work, in its transaction."""
    model = type(trigger)
    own = {f.name: f for f in own_fields(model)}
    using = trigger._state.db or "default"
    correction = Correction(model)
    lock(trigger)
    related = [name for name in names if own[name].is_relation]
    before = model._base_manager.using(using).select_related(*related).get(pk=trigger.pk)
    values = {}
    for name in names:
        attname = own[name].attname  # a foreign key's id: compared without a query
        if getattr(before, attname) != getattr(trigger, attname):
            correction.changes.append(
                (name, shown(getattr(before, name)), shown(getattr(trigger, name)))
            )
            values[attname] = getattr(trigger, attname)
    if values:
        model._base_manager.using(using).filter(pk=trigger.pk).update(**values)
        correction.audit = audit = OperatorAction.objects.using(using).create(
            kind=OperatorAction.Kind.EDIT,
            **OperatorAction.actor(person(user)),
            changed=1,
            changes=[
                {"field": name, "old": old, "new": new} for name, old, new in correction.changes
            ],
        )
        audit.triggers.add(trigger.pk)
        log_entries(audit, correction.message(), user)
        signals.on_commit(
            signals.operator_action,
            Trigger,
            using=using,
            action=OperatorAction.Kind.EDIT.value,
            user=person(user),
            changed=1,
            skipped=0,
        )
    if reprocess:
        queryset = Trigger._base_manager.using(using).filter(pk=trigger.pk)
        correction.reprocessed = actions.perform(actions.REPROCESS, queryset, user=user)
    return correction


def describe(model: type[models.Model], changes: list[dict[str, str]]) -> str:
    """An edit's changes as a sentence: "Amount: 1500 → 150; recipient: bob → alice"."""
    return capfirst(
        "; ".join(f"{label}: {old} → {new}" for label, old, new in labelled(model, changes))
    )


def labelled(
    model: type[models.Model], changes: list[dict[str, str]]
) -> list[tuple[str, str, str]]:
    """An edit's changes (``OperatorAction.changes``) as (the field's name as shown, old, new)."""
    rows = []
    for change in changes:
        try:
            label = str(getattr(model._meta.get_field(change["field"]), "verbose_name", ""))
        except FieldDoesNotExist:  # a field since removed from the class: its name
            label = change["field"]
        rows.append((label, change["old"], change["new"]))
    return rows
