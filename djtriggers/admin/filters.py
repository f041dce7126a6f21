from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import dispatch, priorities
from ..lifecycle import Status
from ..querysets import status_q
from ..registry import trigger_types
from . import dispatched

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class StatusFilter(admin.SimpleListFilter):
    """``?status=failed``: the six statuses, each served by an index; then those of the
    running that wait for a task (``?status=dispatched``, see dispatched.py)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [*Status.choices, (dispatched.DISPATCHED, dispatched.LABEL)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in Status.values:
            return queryset.filter(status_q(str(value)))
        if value == dispatched.DISPATCHED:
            return queryset.filter(dispatch.dispatched_q())
        return queryset


class TypeFilter(admin.SimpleListFilter):
    """The types of the installed trigger classes (no query over the table).

    On the admin of a subclass, only its own types (none: the filter is hidden).
    """

    title = _("type")
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        model = model_admin.model
        if model.typed is not None:
            return []
        return [(typed, typed) for typed in trigger_types()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(trigger_type=self.value())
        return queryset


class PriorityFilter(admin.SimpleListFilter):
    """The priorities 0 (runs first) to 9 (no query over the table); a bad value filters nothing."""

    title = _("priority")
    parameter_name = "priority"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(level), str(level)) for level in priorities.LEVELS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        try:
            level = priorities.parse(self.value() or "")
        except ValueError:
            return queryset
        return queryset.filter(priority=level)
