"""The list of one concrete type: its own fields as columns, and searched.

On ``TriggerAdmin`` for ``Trigger`` filtered to a type (``?type=billing.paybill``)
whose class has fields of its own, or on the admin of that class itself, the
list reads the subclass's rows (one join, plus one per foreign key: no query
per row), shows each own field as a column and matches the search term
against them: text fields contain it, number and UUID fields equal it when it
is one of their values (parsed as their form would: anything else is no match,
never an error), and a foreign key matches when its row matches the term in
the related model's own admin search (``search_fields``), or by primary key.
``amount:42`` searches one own field alone: the fast way on millions of rows,
since a plain term also scans every source and error text.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.http import HttpRequest

from ..corrections import own_fields
from ..models import Trigger
from ..registry import trigger_classes

TEXT = (models.CharField, models.TextField)
EXACT = (models.IntegerField, models.DecimalField, models.FloatField, models.UUIDField)


def listed_type(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> type[Trigger] | None:
    """The concrete subclass whose own fields the list shows, or None (the list as always)."""
    model = model_admin.model
    if model is Trigger:
        classes = trigger_classes().get(request.GET.get("type", ""))
        if not classes:
            return None
        model = classes[0]
    return model if own_fields(model) else None


def columns(model: type[Trigger]) -> list[Callable[[Any], Any]]:
    """One ``list_display`` column per own field, sortable by it, shown as the admin shows it."""
    return [_column(f) for f in own_fields(model)]


def _column(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    def column(obj: Any) -> Any:
        return display_for_field(getattr(obj, field.name), field, "-")

    column.__name__ = f"own_{field.name}"
    return admin.display(description=field.verbose_name, ordering=field.name)(column)


def own_field_names(model: type[Trigger]) -> list[str]:
    return [f.name for f in own_fields(model)]


def related(model: type[Trigger]) -> list[str]:
    """The own foreign keys, for ``select_related``."""
    return [f.name for f in own_fields(model) if f.is_relation]


def search(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    model: type[Trigger],
    term: str,
    name: str | None = None,
) -> Q:
    """What matches ``term`` in the own fields of ``model``, or in field ``name`` alone.

    ``Q(pk__in=[])`` when nothing can match.
    """
    fields = [f for f in own_fields(model) if name in (None, f.name)]
    found = [q for f in fields if (q := _match(model_admin, request, f, term))]
    return functools.reduce(operator.or_, found) if found else Q(pk__in=[])


def _match(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    field: models.Field[Any, Any],
    term: str,
) -> Q | None:
    if isinstance(field, (models.ForeignKey, models.OneToOneField)):
        target: Any = field.related_model
        related_admin = model_admin.admin_site._registry.get(target)
        if related_admin is not None and related_admin.get_search_fields(request):
            rows, _ = related_admin.get_search_results(request, target._default_manager.all(), term)
            return Q(**{f"{field.name}__in": rows.values("pk")})
        value = _value(target._meta.pk, term)
        return None if value is None else Q(**{field.attname: value})
    if isinstance(field, TEXT) and not field.choices:
        return Q(**{f"{field.name}__icontains": term})
    if isinstance(field, EXACT):
        value = _value(field, term)
        return None if value is None else Q(**{field.name: value})
    return None  # dates, booleans, choices, JSON, files: not searched


def _value(field: Any, term: str) -> Any:
    """``term`` as a value of ``field``, as its form field would read it; None if it is none.

    ``to_python`` reads "42", "-7" and other Unicode decimal digits ("٤٢"), and
    refuses "²", "1e3" for integers, "nan" and "inf" for decimals; the
    validators refuse numbers the column cannot hold (ints beyond the
    database's range, decimals with too many digits). A float must be finite.
    """
    try:
        value = field.to_python(term)
        field.run_validators(value)
    except (ValidationError, TypeError, ValueError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
