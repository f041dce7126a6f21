from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote, unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from .. import operations
from ..models import OperatorAction, Trigger
from ..states import CANCELLABLE, REVIVABLE, State, Status
from .actions import (
    cancel_triggers,
    process_triggers_now,
    reprocess_triggers,
    reprocess_triggers_paced,
    reschedule_triggers,
)
from .filters import StatusFilter, TypeFilter
from .forms import RescheduleForm
from .importexport import TriggerImportExportMixin
from .paginator import CappedPaginator
from .timeline import timeline

# What an operator may edit on a trigger's page; every other field the engine owns.
EDITABLE_FIELDS = ("source", "process_after")
SYSTEM_FIELDS = tuple(
    field.name
    for field in Trigger._meta.concrete_fields
    if not field.primary_key and field.name not in EDITABLE_FIELDS
)

# The ordering that the index of each status filter serves.
STATUS_ORDERING = {
    Status.PENDING: ["process_after"],
    Status.DUE: ["process_after"],
    Status.RUNNING: ["locked_until"],
    Status.FAILED: ["-date_processed"],
    Status.PROCESSED: ["-date_processed"],
    Status.CANCELLED: ["-date_processed"],
}


class TriggerAdmin(TriggerImportExportMixin, admin.ModelAdmin):
    """The operators' admin for triggers; register it for your concrete subclasses too.

    ``admin.site.register(PayBill, TriggerAdmin)`` shows a subclass's own
    fields, editable, next to the trigger's read-only system fields.
    """

    list_display = [
        "id",
        "type_column",
        "source",
        "status_badge",
        "received_column",
        "process_after_column",
        "processed_column",
        "tries_column",
        "short_error",
    ]
    list_display_links = ["id"]
    list_filter = [
        StatusFilter,
        TypeFilter,
        ("date_received", admin.DateFieldListFilter),
        ("process_after", admin.DateFieldListFilter),
        ("date_processed", admin.DateFieldListFilter),
    ]
    search_fields = ["source", "last_error"]
    search_help_text = "Source, error text, or a trigger id."
    readonly_fields = SYSTEM_FIELDS
    actions = [
        reprocess_triggers,
        reprocess_triggers_paced,
        reschedule_triggers,
        cancel_triggers,
        process_triggers_now,
    ]
    paginator = CappedPaginator
    show_full_result_count = False
    # Facet counts are a COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    change_list_template = "djtriggers/admin/trigger_change_list.html"
    change_form_template = "djtriggers/admin/trigger_change_form.html"

    class Media:
        css = {"all": ["djtriggers/admin.css"]}

    # --- columns ---------------------------------------------------------------

    @admin.display(description="type", ordering="trigger_type")
    def type_column(self, obj: Trigger) -> str:
        return obj.trigger_type

    @admin.display(description="status", ordering="state")
    def status_badge(self, obj: Trigger) -> str:
        return format_html('<span class="djt-badge djt-{0}">{0}</span>', obj.status)

    @admin.display(description="received", ordering="date_received")
    def received_column(self, obj: Trigger) -> str:
        return _when(obj.date_received)

    @admin.display(description="process after", ordering="process_after")
    def process_after_column(self, obj: Trigger) -> str:
        when = _when(obj.process_after)
        if obj.process_after is not None and obj.status == Status.DUE:
            overdue = timesince(obj.process_after, timezone.now(), depth=1)
            return format_html(
                '{}<br><span class="djt-overdue">overdue by {}</span>', when, overdue
            )
        return when

    @admin.display(description="processed", ordering="date_processed")
    def processed_column(self, obj: Trigger) -> str:
        return _when(obj.date_processed)

    @admin.display(description="tries", ordering="number_of_tries")
    def tries_column(self, obj: Trigger) -> int:
        return obj.number_of_tries

    @admin.display(description="last error")
    def short_error(self, obj: Trigger) -> str:
        error = obj.last_error
        if not error:
            return ""
        short = error if len(error) <= 80 else error[:79] + "…"
        return format_html('<span title="{}">{}</span>', error, short)

    # --- the changelist ----------------------------------------------------------

    def get_ordering(self, request: HttpRequest) -> list[str]:
        status = request.GET.get("status", "")
        return STATUS_ORDERING[Status(status)] if status in Status.values else ["-id"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip().isdigit():
            results = results | queryset.filter(pk=int(search_term.strip()))
        return results, may_have_duplicates

    # --- permissions (the custom ones of Trigger.Meta.permissions) ---------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A base Trigger has no type, so nothing could process it.
        return self.model.typed is not None and super().has_add_permission(request)

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

    # --- the trigger's page ------------------------------------------------------

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


def _when(value: datetime | None) -> str:
    """The date over the time: the changelist has many columns."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return format_html("{}<br>{}", f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}")
