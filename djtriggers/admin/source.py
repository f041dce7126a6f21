from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse

from ..models import Trigger

# How many triggers the object's page lists (newest first).
SHOWN = 20


class SourceTriggersMixin:
    """For a ModelAdmin: the object's page lists the triggers whose source points at it.

    The default source of an object is ``"<app_label>.<model_name>$<pk>"``, what
    ``trigger.set_source(obj._meta.label_lower, obj.pk)`` stores; override
    ``get_trigger_source`` if your triggers name their objects differently.
    """

    change_form_template = "djtriggers/admin/source_change_form.html"

    def get_trigger_source(self, obj: models.Model) -> str:
        return f"{obj._meta.label_lower}${obj.pk}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is not None and _may_view_triggers(request):
            source = self.get_trigger_source(obj)
            triggers = Trigger.objects.filter(source=source)
            extra["source_triggers"] = list(triggers.order_by("-id")[:SHOWN])
            extra["source_trigger_counts"] = {
                status: n for status, n in triggers.status_counts().items() if n
            }
            extra["source_trigger_query"] = source
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]


def _may_view_triggers(request: HttpRequest) -> bool:
    return any(
        request.user.has_perm(f"djtriggers.{action}_trigger") for action in ("view", "change")
    )
