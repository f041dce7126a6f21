"""Which Trigger subclass handles which ``trigger_type``."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.apps import apps

from .exceptions import UnknownTriggerType

if TYPE_CHECKING:
    from .models import Trigger


def trigger_classes() -> dict[str, list[type[Trigger]]]:
    """Every installed Trigger subclass, by its ``typed`` (more than one is an error)."""
    from .models import Trigger

    classes: dict[str, list[type[Trigger]]] = defaultdict(list)
    for model in apps.get_models():
        if issubclass(model, Trigger) and model is not Trigger and model.typed:
            classes[model.typed].append(model)
    return classes


def trigger_types() -> list[str]:
    return sorted(trigger_classes())


def trigger_class(trigger_type: str) -> type[Trigger]:
    classes = trigger_classes().get(trigger_type)
    if not classes:
        raise UnknownTriggerType(
            f"No Trigger subclass has typed = {trigger_type!r}. Was the class renamed or "
            "removed? Restore it (or a proxy with that typed), or cancel these triggers."
        )
    return classes[0]
