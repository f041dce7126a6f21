from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from djtriggers.models import Trigger
from djtriggers.querysets import status_q
from djtriggers.registry import trigger_types
from djtriggers.states import Status


class TriggerFilter(django_filters.FilterSet):
    """The list's filters: status, type, source and a received-date range."""

    status = django_filters.ChoiceFilter(
        choices=Status.choices, method="filter_status", empty_label="any status", label="Status"
    )
    type = django_filters.ChoiceFilter(
        field_name="trigger_type", choices=[], empty_label="any type", label="Type"
    )
    source = django_filters.CharFilter(
        field_name="source", lookup_expr="startswith", label="Source starts with"
    )
    received = django_filters.DateFromToRangeFilter(field_name="date_received", label="Received")

    class Meta:
        model = Trigger
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["type"].extra["choices"] = [(t, t) for t in trigger_types()]

    def filter_status(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(status_q(value)) if value else queryset
