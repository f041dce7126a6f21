"""A trigger's own page: read-only system fields, a timeline, and buttons for the actions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote, unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from .. import operations
from ..models import OperatorAction, Trigger
from ..states import CANCELLABLE, REVIVABLE, State
from .actions import process_triggers_now
from .forms import RescheduleForm
from .timeline import timeline

if TYPE_CHECKING:
    _Base = admin.ModelAdmin
else:
    # A plain mixin at run time: were it a ModelAdmin, ModelAdmin would come
    # before import-export's mixin in TriggerAdmin's MRO and hide its URLs.
    _Base = object


class TriggerPageMixin(_Base):
    """For TriggerAdmin: the change page's extras and the POST views of its buttons."""

    # The custom permissions of Trigger.Meta.permissions, for the actions too.

    def _has(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"{Trigger._meta.app_label}.{codename}_trigger")

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "reprocess")

    def has_reschedule_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "reschedule")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "cancel")

    # --- audit -------------------------------------------------------------------

    def log_operator_action(self, request: HttpRequest, report: operations.Report) -> None:
        """Write the action to Django's admin log, one entry per changed trigger."""
        action = report.action
        if action is None or not action.changed:
            return
        message = report.message() + (f" — {action.reason}" if action.reason else "")
        content_type = ContentType.objects.get_for_model(Trigger, for_concrete_model=False)
        links = action.triggers.through.objects.filter(operatoraction_id=action.pk)
        pks = links.values_list("trigger_id", flat=True).order_by("trigger_id")
        batch: list[LogEntry] = []
        for pk in pks.iterator(chunk_size=2000):
            batch.append(
                LogEntry(
                    user_id=request.user.pk or 0,
                    content_type=content_type,
                    object_id=str(pk),
                    object_repr=f"Trigger #{pk}"[:200],
                    action_flag=CHANGE,
                    change_message=message,
                )
            )
            if len(batch) == 2000:
                LogEntry.objects.bulk_create(batch)
                batch = []
        LogEntry.objects.bulk_create(batch)

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only the edited fields: a full save would write back the state, tries
        # and lock read at the start of this request, undoing a worker's progress.
        fields = [name for name in form.changed_data if _is_concrete(obj, name)]
        obj.save(update_fields=fields)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None:
            extra["timeline"] = timeline(obj)
            extra["trigger_status"] = obj.status
            extra["object_actions"] = self._object_actions(request, obj)
            extra["reschedule_form"] = RescheduleForm()
        return super().change_view(request, object_id, form_url, extra)

    def _object_actions(self, request: HttpRequest, obj: Trigger) -> list[dict[str, str]]:
        """The buttons that apply to the trigger's state and that the user may press."""
        buttons = []
        info = self.model._meta.app_label, self.model._meta.model_name
        for kind, label, allowed, states in (
            ("reprocess", "Reprocess", self.has_reprocess_permission(request), REVIVABLE),
            ("reschedule", "Reschedule", self.has_reschedule_permission(request), REVIVABLE),
            ("cancel", "Cancel", self.has_cancel_permission(request), CANCELLABLE),
            ("process", "Process now", self.has_reprocess_permission(request), (State.SCHEDULED,)),
        ):
            if allowed and obj.state in states:
                url = reverse(f"admin:{info[0]}_{info[1]}_{kind}", args=[quote(obj.pk)])
                buttons.append({"kind": kind, "label": label, "url": url})
        return buttons

    def get_urls(self) -> list[URLPattern]:
        info = self.model._meta.app_label, self.model._meta.model_name
        view = self.admin_site.admin_view
        return [
            path(
                f"<path:object_id>/{kind}/",
                view(require_POST(self._object_action_view(kind))),
                name=f"{info[0]}_{info[1]}_{kind}",
            )
            for kind in ("reprocess", "reschedule", "cancel", "process")
        ] + super().get_urls()

    def _object_action_view(self, kind: str) -> Any:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            return self.object_action(request, object_id, kind)

        return view

    def object_action(self, request: HttpRequest, object_id: str, kind: str) -> HttpResponse:
        """A button on the trigger's page: the same operation as the action, on one row."""
        permission = "reprocess" if kind == "process" else kind
        if not getattr(self, f"has_{permission}_permission")(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No trigger with id {object_id!r}.")
        change_url = reverse(
            f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change",
            args=[quote(obj.pk)],
        )
        if kind == "process":
            process_triggers_now(self, request, self.get_queryset(request).filter(pk=obj.pk))
            return HttpResponseRedirect(change_url)
        when: datetime | None = None
        if kind == "reschedule":
            form = RescheduleForm(request.POST)
            if not form.is_valid():
                for errors in form.errors.values():
                    for error in errors:
                        self.message_user(request, f"Not rescheduled: {error}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            when = form.cleaned_data["process_after"]
        report = operations.perform(
            getattr(OperatorAction.Kind, kind.upper()),
            self.get_queryset(request).filter(pk=obj.pk),
            user=request.user,
            reason=request.POST.get("reason", "")[:1000],
            when=when,
        )
        self.log_operator_action(request, report)
        level = messages.SUCCESS if report.changed else messages.WARNING
        self.message_user(request, report.message(), level)
        return HttpResponseRedirect(change_url)


def _is_concrete(obj: Model, name: str) -> bool:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:  # a form field of its own
        return False
    return bool(field.concrete) and not field.many_to_many
