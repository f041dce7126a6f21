"""One trigger per key: at most one unfinished trigger of a type per key.

A class declares its key with ``unique_key``: ``True`` for its ``source``, or
the names of fields (``unique_key = ("recipient", "amount")``). The key is
taken when the trigger is created (``save()`` or ``bulk_create()``) and stored
in ``trigger_key``; code may also give one of its own, e.g. a schedule's slot
(``create_unique(unique_key="schedule:7:2026-12-03T10:15")``), on any class.

The database enforces it, on every database and under every write: the
stored generated column ``unfinished_key`` is ``trigger_key`` while the
trigger is *unfinished* (scheduled, that is pending or due, or running) and
NULL once it is finished (processed, failed or cancelled), and a unique index
covers ``(trigger_type, unfinished_key)`` (NULLs never conflict). State follows
every write, the 2.x ones too (``legacy.py``), so a trigger finished by
``update(date_processed=...)`` or raw SQL frees its key as well.

``create()`` of a second unfinished trigger with a key in use raises
IntegrityError; ``create_unique()`` returns the one that holds the key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, connections, transaction

from .exceptions import UnknownTriggerType
from .registry import trigger_class

KEY_LENGTH = 255
# Tries of create_unique: a key freed and taken again between our insert and our read.
TRIES = 10


def declared(cls: type) -> tuple[str, ...] | None:
    """The fields a class's key is made of (``("source",)`` for True), or None."""
    value = getattr(cls, "unique_key", False)
    if value is True:
        return ("source",)
    if isinstance(value, tuple) and value:
        return value
    return None


def key_of(trigger: Any) -> str | None:
    """The key of ``trigger`` under its class's ``unique_key`` (None: it has none).

    The values of the fields, each ``name=value``, joined with ``&``; a key too
    long for the column is stored as its SHA-256. A plain ``Trigger`` (an import's
    row) gets the key of the class registered for its type, if it has the fields.
    """
    cls = type(trigger)
    if cls.typed is None and trigger.trigger_type:
        try:
            cls = trigger_class(trigger.trigger_type)
        except UnknownTriggerType:
            return None
    names = declared(cls)
    if names is None or not all(hasattr(trigger, name) for name in names):
        return None
    values = [getattr(trigger, name) for name in names]
    if names == ("source",) and values[0] in (None, ""):
        return None  # no source: nothing to be unique about
    text = "&".join(f"{name}={_text(value)}" for name, value in zip(names, values, strict=True))
    return fit(text)


def fit(key: str) -> str:
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _text(value: Any) -> str:
    if hasattr(value, "pk") and hasattr(value, "_meta"):
        value = value.pk
    return "" if value is None else str(value)


def fill(trigger: Any) -> None:
    """Give a new trigger the key its class declares, unless it was given one."""
    if trigger.trigger_key is None:
        trigger.trigger_key = key_of(trigger)


def create_unique(
    queryset: Any, *, unique_key: str | None = None, **fields: Any
) -> tuple[Any, bool]:
    """``(trigger, created)``: a new trigger, or the unfinished one holding its key.

    Race-safe: the insert runs in a savepoint and the database's unique index
    decides; on a conflict the holder is read, and if it finished meanwhile the
    insert is tried again. Raises ValueError for a trigger without a key.
    """
    model = queryset.model
    db = queryset.db
    error: IntegrityError | None = None
    for _ in range(TRIES):
        trigger = model(**fields)
        if unique_key is not None:
            trigger.trigger_key = fit(unique_key)
        fill(trigger)
        if trigger.trigger_key is None:
            raise ValueError(
                f"{model.__name__} has no key: declare unique_key on the class (True for "
                "its source, or a tuple of field names), or pass unique_key=..."
            )
        try:
            with transaction.atomic(using=db):
                trigger.save(force_insert=True, using=db)
        except IntegrityError as exc:
            error = exc
            holder = holder_of(model._base_manager.using(db), trigger)
            if holder is not None:
                return holder, False
            continue  # finished meanwhile (or another constraint): again
        return trigger, True
    assert error is not None
    raise error


def holder_of(queryset: Any, trigger: Any) -> Any:
    """The unfinished trigger holding ``trigger``'s key (None: there is none now)."""
    holders = queryset.filter(trigger_type=trigger.trigger_type, unfinished_key=trigger.trigger_key)
    connection = connections[queryset.db]
    if connection.vendor == "mysql" and connection.in_atomic_block:  # pragma: no cover - MariaDB
        # InnoDB's REPEATABLE READ: inside the caller's transaction a plain read sees
        # its snapshot, without a holder committed since; a locking read sees it (and
        # locks no more than the failed insert already did: the holder's index entry).
        holders = holders.select_for_update()
    return holders.first()


def blocked(queryset: Any, pks: list[Any]) -> set[Any]:
    """Of finished triggers ``pks`` about to be revived, those whose key is taken: held by
    an unfinished trigger, or by one revived before them here (the lowest pk goes first)."""
    keyed = list(
        queryset.filter(pk__in=pks, trigger_key__isnull=False, unfinished_key__isnull=True)
        .order_by("pk")
        .values_list("pk", "trigger_type", "trigger_key")
    )
    if not keyed:
        return set()
    held = set(
        queryset.filter(unfinished_key__in={key for _, _, key in keyed}).values_list(
            "trigger_type", "unfinished_key"
        )
    )
    taken = set()
    for pk, trigger_type, key in keyed:
        if (trigger_type, key) in held:
            taken.add(pk)
        held.add((trigger_type, key))
    return taken
