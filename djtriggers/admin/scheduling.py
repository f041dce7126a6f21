"""Recurring schedules in the admin: their list with next and last run, disabling and enabling.

Declared rows come from the classes (``schedule = ...``) and are read-only here;
operators add schedules for types whose triggers need no own data. Disabling
and enabling are actions with a reason, audited (``schedules.disable`` and
``enable``), and need the change permission of schedules.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import controls, cron, schedules, wakeup
from ..models import Schedule
from ..registry import trigger_types


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=controls.REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit trail, and shown on the schedule's page."),
    )


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """An operator's schedule: a type without own data, a cron expression, a time zone."""

    trigger_type = forms.ChoiceField(label=_("trigger type"), choices=())

    class Meta:
        model = Schedule
        fields = ["trigger_type", "expression", "time_zone", "catch_up"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "trigger_type" in self.fields:
            field = self.fields["trigger_type"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", "---------")] + [(t, t) for t in trigger_types()]
        if "time_zone" in self.fields and not self.initial.get("time_zone"):
            self.initial["time_zone"] = schedules.default_timezone()

    def clean_trigger_type(self) -> str:
        name = str(self.cleaned_data["trigger_type"])
        try:
            schedules.schedulable(name)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return name

    def clean_expression(self) -> str:
        expression = " ".join(str(self.cleaned_data["expression"]).split())
        try:
            cron.expand(expression)
        except cron.CronError as exc:
            raise forms.ValidationError(str(exc)) from None
        return expression

    def clean_time_zone(self) -> str:
        name = str(self.cleaned_data["time_zone"]).strip()
        try:
            cron.zone(name)
        except cron.CronError as exc:
            raise forms.ValidationError(str(exc)) from None
        return name


def _toggle(
    modeladmin: ScheduleAdmin, request: HttpRequest, queryset: QuerySet[Any], *, enable: bool
) -> HttpResponse | None:
    rows = list(queryset.filter(enabled=not enable))
    if not rows:
        text = (
            gettext("They are all enabled already.")
            if enable
            else gettext("They are all disabled already.")
        )
        modeladmin.message_user(request, text, messages.WARNING)
        return None
    form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_valid():
        change = schedules.enable if enable else schedules.disable
        reason = form.cleaned_data["reason"]
        done = len([row for row in rows if change(row, reason=reason, user=request.user)])
        if enable:
            text = ngettext("Enabled %(count)d schedule.", "Enabled %(count)d schedules.", done)
        else:
            text = ngettext("Disabled %(count)d schedule.", "Disabled %(count)d schedules.", done)
        modeladmin.message_user(request, text % {"count": done}, messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": gettext("Enable schedules") if enable else gettext("Disable schedules"),
        "enable": enable,
        "rows": rows,
        "form": form,
        "opts": modeladmin.model._meta,
        "select_across": request.POST.get("select_across") == "1",
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "djtriggers/admin/schedule_toggle.html", context)


@admin.action(description=_("Disable the selected schedules…"), permissions=["change"])
def disable_schedules(
    modeladmin: ScheduleAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return _toggle(modeladmin, request, queryset, enable=False)


@admin.action(description=_("Enable the selected schedules…"), permissions=["change"])
def enable_schedules(
    modeladmin: ScheduleAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return _toggle(modeladmin, request, queryset, enable=True)


def when(value: Any, tz: str) -> str:
    """A time on the schedule's clock, with UTC in its title."""
    if value is None:
        return "-"
    try:
        local = value.astimezone(cron.zone(tz))
    except cron.CronError:
        local = timezone.localtime(value)
    return format_html(
        '<span title="{} UTC">{}</span>', f"{value:%Y-%m-%d %H:%M}", f"{local:%Y-%m-%d %H:%M %Z}"
    )


class ScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ScheduleForm
    list_display = [
        "trigger_type",
        "expression",
        "time_zone",
        "enabled",
        "next_run",
        "last_run",
        "last_outcome",
        "origin",
    ]
    list_filter = ["enabled", "declared", "catch_up", "trigger_type"]
    search_fields = ["trigger_type", "expression"]
    actions = [disable_schedules, enable_schedules]
    ordering = ["trigger_type", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return schedules.with_outcomes(super().get_queryset(request))

    def get_actions(self, request: HttpRequest) -> Any:
        found = super().get_actions(request)
        # Deleting a declared row would bring it back at the next sync: one by one only.
        found.pop("delete_selected", None)
        return found

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["trigger_type", "expression", "time_zone", "catch_up"]
        return [
            "trigger_type",
            "expression",
            "time_zone",
            "catch_up",
            "enabled",
            "origin",
            "next_run",
            "last_run",
            "last_outcome",
            "triggers",
            "audit",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        shown = ["enabled", "origin", "next_run", "last_run", "last_outcome", "triggers", "audit"]
        if obj.declared:
            # From the class's code: change it there.
            return ["trigger_type", "expression", "time_zone", "catch_up", *shown]
        return ["trigger_type", *shown]

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        now = timezone.now()
        obj.updated_at = now
        if not change:
            obj.declared = None
        if obj.enabled and (not change or {"expression", "time_zone"} & set(form.changed_data)):
            obj.next_run_at = cron.next_slot(obj.expression, obj.time_zone, now)
        super().save_model(request, obj, form, change)
        wakeup.poke(obj._state.db or "default", obj.next_run_at)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever sees the triggers sees the schedules that make them (as on the dashboard).
        return super().has_view_permission(request, obj) or bool(
            request.user.has_perm("djtriggers.view_trigger")
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.declared and not schedules.runnable(obj):
            return False  # its class declares it: remove it from the class
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("next run"), ordering="next_run_at")
    def next_run(self, obj: Schedule) -> str:
        if not obj.enabled:
            return gettext("none (disabled)")
        why = schedules.runnable(obj)
        if why:
            return gettext("not run: %(why)s") % {"why": why}
        return when(obj.next_run_at, obj.time_zone)

    @admin.display(description=_("last run"), ordering="last_run_at")
    def last_run(self, obj: Schedule) -> str:
        return when(obj.last_run_at, obj.time_zone)

    @admin.display(description=_("last outcome"))
    def last_outcome(self, obj: Schedule) -> str:
        if obj.last_trigger_id is None:
            return "-"
        status = schedules.outcome(obj)
        if status is None:
            return gettext("trigger #%(pk)s (deleted)") % {"pk": obj.last_trigger_id}
        url = reverse(
            f"{self.admin_site.name}:djtriggers_trigger_change", args=[obj.last_trigger_id]
        )
        return format_html(
            '<a href="{}"><span class="djt-badge djt-{}">{}</span> #{}</a>',
            url,
            status.value,
            status.label,
            obj.last_trigger_id,
        )

    @admin.display(description=_("origin"), ordering="declared")
    def origin(self, obj: Schedule) -> str:
        return gettext("declared by its class") if obj.declared else gettext("added here")

    @admin.display(description=_("triggers"))
    def triggers(self, obj: Schedule) -> str:
        url = reverse(f"{self.admin_site.name}:djtriggers_trigger_changelist")
        return format_html(
            '<a href="{}?q={}">{}</a>', url, schedules.triggers_of(obj), gettext("its triggers")
        )

    @admin.display(description=_("disabled and enabled"))
    def audit(self, obj: Schedule) -> str:
        rows = list(schedules.history(obj)[:20])
        if not rows:
            return gettext("never")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} {}{}</li>",
                (
                    (
                        f"{timezone.localtime(row.created_at):%Y-%m-%d %H:%M}",
                        row.get_kind_display(),
                        gettext("by %(who)s") % {"who": row.username or gettext("code")},
                        f": {row.reason}" if row.reason else "",
                    )
                    for row in rows
                ),
            ),
        )
