from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from djtriggers.lifecycle import Status
from djtriggers.models import Trigger
from djtriggers.querysets import status_q
from djtriggers.registry import trigger_types

TYPE_MAX_LENGTH = Trigger._meta.get_field("trigger_type").max_length or 100


class TriggerFilter(django_filters.FilterSet):
    """The list's filters: status, type, source and a received-date range."""

    status = django_filters.ChoiceFilter(
        choices=Status.choices,
        method="filter_status",
        empty_label=_("any status"),
        label=_("Status"),
    )
    type = django_filters.ChoiceFilter(
        field_name="trigger_type", choices=[], empty_label=_("any type"), label=_("Type")
    )
    source = django_filters.CharFilter(
        field_name="source", lookup_expr="startswith", label=_("Source starts with")
    )
    received = django_filters.DateFromToRangeFilter(field_name="date_received", label=_("Received"))

    class Meta:
        model = Trigger
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(t, t) for t in trigger_types()]
        # A type whose class is gone is what an operator must clean up: the type
        # matrix and the failure groups link to it, so it is a choice when asked for.
        asked = (self.data or {}).get("type", "")
        if asked and asked not in dict(choices) and len(asked) <= TYPE_MAX_LENGTH:
            choices.append((asked, gettext("%(type)s (no class)") % {"type": asked}))
        self.filters["type"].extra["choices"] = choices

    def filter_status(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(status_q(value)) if value else queryset
