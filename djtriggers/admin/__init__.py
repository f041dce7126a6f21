"""The operators' admin: ``TriggerAdmin`` is registered for ``Trigger``.

Register it (or a subclass) for your concrete trigger models too, and add
``SourceTriggersMixin`` to the admin of models that triggers point at.
"""

from django.contrib import admin

from ..models import PausedType, Schedule, Trigger
from .actions import (
    cancel_triggers,
    process_triggers_now,
    reprocess_triggers,
    reprocess_triggers_paced,
    reschedule_triggers,
)
from .options import TriggerAdmin
from .pausing import PausedTypeAdmin, pause_trigger_types
from .scheduling import ScheduleAdmin, disable_schedules, enable_schedules
from .source import SourceTriggersMixin

__all__ = [
    "PausedTypeAdmin",
    "ScheduleAdmin",
    "SourceTriggersMixin",
    "TriggerAdmin",
    "cancel_triggers",
    "disable_schedules",
    "enable_schedules",
    "pause_trigger_types",
    "process_triggers_now",
    "reprocess_triggers",
    "reprocess_triggers_paced",
    "reschedule_triggers",
]

admin.site.register(Trigger, TriggerAdmin)
admin.site.register(PausedType, PausedTypeAdmin)
admin.site.register(Schedule, ScheduleAdmin)
