from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import actions, corrections, uniqueness
from ..lifecycle import Status
from ..models import Trigger
from ..times import check_in_range
from . import dispatched
from .actions import (
    cancel_triggers,
    change_priority,
    process_triggers_now,
    reprocess_triggers,
    reprocess_triggers_paced,
    reschedule_triggers,
)
from .filters import PriorityFilter, StatusFilter, TypeFilter
from .optional import ImportExport
from .owndata import columns, listed_type, own_field_names, related, search
from .pages import REPROCESS_BUTTON, TriggerPageMixin
from .paginator import CappedPaginator
from .pausing import PausePermissionMixin, pause_trigger_types, paused_notice
from .templates import template_names

# What an operator may edit on a trigger's page; every other field the engine owns.
EDITABLE_FIELDS = ("source", "process_after")
SYSTEM_FIELDS = tuple(
    field.name
    for field in Trigger._meta.concrete_fields
    if not field.primary_key and field.name not in EDITABLE_FIELDS
)

MAX_ID = 2**31 - 1

# The ordering that the index of each status filter serves.
STATUS_ORDERING = {
    Status.PENDING: ["process_after"],
    Status.DUE: ["process_after"],
    Status.RUNNING: ["locked_until"],
    Status.FAILED: ["-date_processed"],
    Status.PROCESSED: ["-date_processed"],
    Status.CANCELLED: ["-date_processed"],
}


if TYPE_CHECKING:
    _ModelForm = forms.ModelForm[Trigger]
    _ModelAdmin = admin.ModelAdmin[Trigger]
else:  # not subscriptable at run time
    _ModelForm = forms.ModelForm
    _ModelAdmin = admin.ModelAdmin


class TriggerChangeForm(_ModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["process_after"].widget if "process_after" in self.fields else None
        if isinstance(widget, forms.MultiWidget):
            # The admin's date and time boxes share one <label>, which names neither.
            date, time = widget.widgets
            date.attrs["aria-label"] = gettext("Process after: date")
            time.attrs["aria-label"] = gettext("Process after: time")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        trigger = self.instance
        own = {f.name for f in corrections.own_fields(type(trigger))}
        if trigger.pk is not None and (
            own & set(self.changed_data) or REPROCESS_BUTTON in self.data
        ):
            # In the admin's transaction: the lock holds until the correction commits,
            # so a worker can neither be running the trigger nor claim it meanwhile.
            try:
                corrections.lock(trigger)
            except corrections.NotEditable as exc:
                raise forms.ValidationError(str(exc), code="not_editable") from None
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        trigger = self.instance
        if trigger.pk is None and not self.errors:
            # A new trigger whose key an unfinished one holds: say which, add nothing.
            # (The database refuses it anyway; this is for a clear error.)
            uniqueness.fill(trigger)
            holder = (
                uniqueness.holder_of(Trigger._base_manager.using(trigger._state.db), trigger)
                if trigger.trigger_key
                else None
            )
            if holder is not None:
                self.add_error(
                    None,
                    gettext(
                        "Trigger %(pk)s (%(status)s) already has the key %(key)s: a type "
                        "with a unique key has one unfinished trigger per key. Change the "
                        "fields of the key, or wait until that one has finished."
                    )
                    % {"pk": holder.pk, "status": holder.status.label, "key": holder.trigger_key},
                )

    def clean_process_after(self) -> datetime | None:
        when: datetime | None = self.cleaned_data.get("process_after")
        if when is None and self.instance.pk is not None and "process_after" in self.changed_data:
            # On a trigger's page a new process_after is a reschedule
            # (TriggerPageMixin.save_model), and a reschedule needs a time, as
            # the action's form does: clearing the field is refused, not "due now".
            raise forms.ValidationError(
                gettext(
                    # Translators: the action is the button's label, "Reprocess".
                    "Enter a date and time: the trigger is rescheduled to it. "
                    "To make it due now, use %(action)s."
                )
                % {"action": actions.REPROCESS.label},
                code="required",
            )
        if when is not None:
            try:
                check_in_range(when)
            except ValueError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from None
        return when


class TriggerAdmin(PausePermissionMixin, TriggerPageMixin, ImportExport, _ModelAdmin):
    """The operators' admin for triggers; register it for your concrete subclasses too.

    ``admin.site.register(PayBill, TriggerAdmin)`` shows a subclass's own
    fields next to the trigger's read-only system fields: editable while the
    trigger is pending, due or failed, with "Save and reprocess" (see
    corrections.py); its list shows and searches them (see owndata.py), as the
    Trigger list does when filtered to that type.
    """

    list_display = [
        "id",
        "type_column",
        "source",
        "status_badge",
        "priority",
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
        PriorityFilter,
        ("date_received", admin.DateFieldListFilter),
        ("process_after", admin.DateFieldListFilter),
        ("date_processed", admin.DateFieldListFilter),
    ]
    search_fields = ["source", "last_error", "trigger_key"]
    search_help_text = _(
        "Source (a term with $ matches sources starting with it), error text, or an id."
    )
    # Translators: the fields are the type's own, e.g. "amount:, recipient:".
    own_data_search_help_text = _(
        "Source (a term with $ matches sources starting with it), error text, an id, "
        "or this type's own data; one field's only: %(fields)s followed by the term."
    )
    readonly_fields = SYSTEM_FIELDS
    form = TriggerChangeForm
    actions = [
        reprocess_triggers,
        reprocess_triggers_paced,
        reschedule_triggers,
        cancel_triggers,
        process_triggers_now,
        pause_trigger_types,
        change_priority,
    ]
    paginator = CappedPaginator
    show_full_result_count = False
    # Facet counts are a COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # Our pages' templates. None: the first of admin/<app>/<model>/<name>.html,
    # admin/<app>/<name>.html and ours (see templates.template_names), so a
    # project overrides them as it overrides Django's; set to use one template.
    change_list_template = None  # the list page (under import-export's)
    change_form_template = None  # a trigger's page
    action_confirmation_template: str | list[str] | None = None  # an action's form or confirmation

    class Media:
        css = {"all": ["djtriggers/admin.css"]}

    # --- columns ---------------------------------------------------------------

    @admin.display(description=_("type"), ordering="trigger_type")
    def type_column(self, obj: Trigger) -> str:
        return obj.trigger_type

    @admin.display(description=_("status"), ordering="state")
    def status_badge(self, obj: Trigger) -> str:
        css, label = dispatched.badge(obj)
        badge = format_html('<span class="djt-badge djt-{}">{}</span>', css, label)
        deadline = dispatched.deadline(obj)
        return format_html("{}<br>{}", badge, deadline) if deadline else badge

    @admin.display(description=_("received"), ordering="date_received")
    def received_column(self, obj: Trigger) -> str:
        return _when(obj.date_received)

    @admin.display(description=_("process after"), ordering="process_after")
    def process_after_column(self, obj: Trigger) -> str:
        when = _when(obj.process_after)
        if obj.process_after is not None and obj.status == Status.DUE:
            overdue = timesince(obj.process_after, timezone.now(), depth=1)
            # Translators: the time is Django's timesince, "3 hours".
            overdue_by = gettext("overdue by %(time)s") % {"time": overdue}
            return format_html('{}<br><span class="djt-overdue">{}</span>', when, overdue_by)
        return when

    @admin.display(description=_("processed"), ordering="date_processed")
    def processed_column(self, obj: Trigger) -> str:
        return _when(obj.date_processed)

    @admin.display(description=_("tries"), ordering="number_of_tries")
    def tries_column(self, obj: Trigger) -> int:
        return obj.number_of_tries

    @admin.display(description=_("last error"))
    def short_error(self, obj: Trigger) -> str:
        error = obj.last_error
        if not error:
            return ""
        short = error if len(error) <= 80 else error[:79] + "…"
        return format_html('<span title="{}">{}</span>', error, short)

    # --- the changelist ----------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and request.GET.get("type"):
            paused_notice(self, request, request.GET["type"])
        # type(self): import-export sets the instance's change_list_template to its
        # own page, which extends the template named ``ie_base_change_list_template``.
        if not isinstance(response, TemplateResponse) or type(self).change_list_template:
            return response
        context = response.context_data
        if context and "cl" in context:  # the list, not an action's page
            names = template_names(
                self.opts, "change_list", "djtriggers/admin/trigger_change_list.html"
            )
            if response.template_name == getattr(self, "import_export_change_list_template", None):
                # {% extends %} takes a template or a name, not a list of names.
                context["ie_base_change_list_template"] = select_template(names)
            else:  # no export and import buttons: ours is the page itself
                response.template_name = names
        return response

    # --- the list of one concrete type: its own fields (see owndata.py) -----------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        model = listed_type(self, request) if self.model is Trigger else None
        if model is None:
            return super().get_queryset(request)
        # The Trigger list filtered to a concrete type: that type's rows, with their data.
        queryset: QuerySet[Any] = model._default_manager.order_by(*self.get_ordering(request))
        return queryset

    def get_list_display(self, request: HttpRequest) -> Any:
        display = list(super().get_list_display(request))
        model = listed_type(self, request)
        if model is not None:
            at = display.index("source") + 1 if "source" in display else len(display)
            display[at:at] = columns(model)
        return display

    def get_list_select_related(self, request: HttpRequest) -> Any:
        model = listed_type(self, request)
        return related(model) if model is not None else super().get_list_select_related(request)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        model = listed_type(self, request)
        if model is not None:
            fields = ", ".join(f"{name}:" for name in own_field_names(model))
            changelist.search_help_text = str(self.own_data_search_help_text) % {"fields": fields}
        return changelist

    def get_ordering(self, request: HttpRequest) -> list[str]:
        status = request.GET.get("status", "")
        if status == dispatched.DISPATCHED:
            return ["locked_until"]  # the first to be published again first
        return list(STATUS_ORDERING[Status(status)]) if status in Status.values else ["-id"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        model = listed_type(self, request)
        if model is not None and issubclass(queryset.model, model):
            name, _, value = term.partition(":")
            if value and name in own_field_names(model):
                # "amount:42": that own field alone, along its index if it has one,
                # not a scan of every source and error text.
                return queryset.filter(search(self, request, model, value.strip(), name)), False
        if "$" in term and " " not in term:
            # A source such as "billing.invoice$42": a prefix match on its index,
            # not a scan of every source and error text.
            return queryset.filter(source__startswith=term), False
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # isascii(): "²" and other non-ASCII digits pass isdigit() but are no id;
        # ids are 32-bit.
        if term.isascii() and term.isdigit() and int(term) <= MAX_ID:
            results = results | queryset.filter(pk=int(term))
        if term and model is not None and issubclass(queryset.model, model):
            results = results | queryset.filter(search(self, request, model, term))
        return results, may_have_duplicates

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Moving process_after is a reschedule: its permission, and its audit (save_model).
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not actions.RESCHEDULE.allowed(request.user):
            readonly.append("process_after")
        if obj is not None and not corrections.editable(obj):
            # A running or finished trigger's data is what it ran with (actions.EDITABLE).
            readonly += [f.name for f in corrections.own_fields(type(obj))]
        return readonly

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A base Trigger has no type, so nothing could process it.
        return self.model.typed is not None and super().has_add_permission(request)


def _when(value: datetime | None) -> str:
    """The date over the time: the changelist has many columns."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return format_html("{}<br>{}", f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}")
