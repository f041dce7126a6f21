"""Triggers as rows of a file: what the admin exports and imports."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export import fields, resources, widgets

from . import lifecycle
from .models import Trigger
from .registry import trigger_classes

# Columns an import reads; every other column of an exported file is ignored.
IMPORTED = ("trigger_type", "source", "process_after")


class TriggerResource(resources.ModelResource):
    """Exports every trigger; imports new triggers of proxy types only.

    An import never updates or deletes: each row is a new trigger, due at its
    ``process_after`` (now when empty).
    """

    status = fields.Field(column_name="status", readonly=True)
    process_after = fields.Field(
        attribute="process_after",
        column_name="process_after",
        widget=widgets.DateTimeWidget(),
    )

    class Meta:
        model = Trigger
        fields = (
            "id",
            "trigger_type",
            "source",
            "status",
            "date_received",
            "process_after",
            "date_processed",
            "number_of_tries",
            "last_error",
        )
        export_order = fields
        skip_diff = True
        use_transactions = True
        chunk_size = 2000

    def dehydrate_status(self, trigger: Trigger) -> str:
        return trigger.status

    def get_import_fields(self) -> list[Any]:
        return [self.fields[name] for name in IMPORTED]

    def get_user_visible_fields(self) -> list[Any]:
        return list(self.fields.values())

    def get_instance(self, instance_loader: Any, row: Any) -> None:
        return None  # always a new trigger

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        typed = (row.get("trigger_type") or "").strip()
        classes = trigger_classes().get(typed)
        if not typed:
            raise ValidationError({"trigger_type": "The trigger_type column is empty."})
        if not classes:
            known = ", ".join(sorted(trigger_classes())) or "none"
            raise ValidationError(
                {"trigger_type": f"Unknown trigger type {typed!r}. Known types: {known}."}
            )
        if classes[0]._meta.concrete_model is not Trigger:
            raise ValidationError(
                {
                    "trigger_type": f"{typed!r} keeps data of its own ({classes[0].__name__}); "
                    "create those triggers in code. Import supports proxy trigger types."
                }
            )
        row["trigger_type"] = typed

    def import_instance(self, instance: Trigger, row: Any, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        try:
            values = lifecycle.initial(instance.process_after, now=timezone.now())
        except ValueError as exc:
            raise ValidationError({"process_after": str(exc)}) from None
        for name, value in values.items():
            setattr(instance, name, value)
