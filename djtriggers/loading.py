"""Claimed rows as instances of their trigger classes, without one bad row failing the rest."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from .exceptions import TriggerDataMissing, UnknownTriggerType
from .models import Trigger
from .registry import trigger_classes

log = logging.getLogger("djtriggers")

TRIGGER_FIELDS = [f.attname for f in Trigger._meta.concrete_fields]
TYPE_INDEX = TRIGGER_FIELDS.index("trigger_type")


Loaded = tuple[Trigger, Trigger | None, Exception | None]


def load_typed(qs: QuerySet[Trigger], using: str) -> list[Loaded]:
    """The rows of ``qs`` as (base row, instance of its registered class, why there is none).

    Proxies are built from the row itself; multi-table classes cost one query
    each. A row that cannot be loaded (unknown type, its own row deleted, a
    field that will not convert) comes with the reason instead of failing the others.
    """
    classes = trigger_classes()
    loaded: list[Loaded] = []
    needs_query: dict[type[Trigger], list[Any]] = {}
    for values in qs.values_list(*TRIGGER_FIELDS):
        candidates = classes.get(values[TYPE_INDEX])
        cls = candidates[0] if candidates else None
        if cls is not None and cls._meta.concrete_model is Trigger:
            try:  # the hot path: one instance, the row and its class at once
                proxy = cls.from_db(using, TRIGGER_FIELDS, values)
            except Exception as exc:
                loaded.append((Trigger.from_db(using, TRIGGER_FIELDS, values), None, exc))
            else:
                loaded.append((proxy, proxy, None))
            continue
        row = Trigger.from_db(using, TRIGGER_FIELDS, values)
        if cls is None:
            loaded.append((row, None, unknown_type_error(row)))
            continue
        loaded.append((row, None, None))
        needs_query.setdefault(cls, []).append(row.pk)
    if needs_query:
        typed: dict[Any, Trigger | Exception] = {}
        for model, pks in needs_query.items():
            typed.update(_load_model(model, pks, using))
        loaded = [
            (row, obj, error) if obj or error else _with(row, typed.get(row.pk))
            for row, obj, error in loaded
        ]
    return loaded


def _with(row: Trigger, found: Trigger | Exception | None) -> Loaded:
    if isinstance(found, Exception):
        return row, None, found
    if found is None:
        cls = trigger_classes()[row.trigger_type][0]
        return row, None, TriggerDataMissing(row, cls)
    return row, found, None


def _load_model(model: type[Trigger], pks: list[Any], using: str) -> dict[Any, Any]:
    """The instances of ``model`` with these pks; one by one if loading them together fails."""
    manager = model._base_manager.using(using)
    try:
        with transaction.atomic(using=using):  # a savepoint: the group stays usable
            return {obj.pk: obj for obj in manager.filter(pk__in=pks)}
    except Exception:
        log.exception("Loading %d %s triggers failed; loading them one by one", len(pks), model)
    found: dict[Any, Any] = {}
    for pk in pks:
        try:
            with transaction.atomic(using=using):
                obj = manager.filter(pk=pk).first()
        except Exception as exc:
            found[pk] = exc
        else:
            if obj is not None:
                found[pk] = obj
    return found


def unknown_type_error(row: Trigger) -> UnknownTriggerType:
    return UnknownTriggerType(
        f"No Trigger subclass has typed = {row.trigger_type!r}. Was the class renamed "
        "or removed? Restore it (or a proxy with that typed), then reprocess."
    )
