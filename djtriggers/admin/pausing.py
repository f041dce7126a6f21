"""Pausing types from the admin: an action on the trigger list, and the paused types' list.

The action pauses the types of the selected triggers, with a reason, after a
page that names them; the paused types' list (``PausedTypeAdmin``) shows who
paused each, when and why, its due backlog, and resumes them. Both need the
permission ``djtriggers.pause_trigger_type`` (checked again in controls.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import controls
from ..models import PausedType
from ..registry import trigger_classes

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


class PauseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=controls.REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to everyone who sees the type paused, and kept in the audit trail."),
    )


def may_pause(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(controls.PERMISSION))


class PausePermissionMixin:
    """``has_pause_trigger_type_permission``, which the admin actions' ``permissions`` name."""

    def has_pause_trigger_type_permission(self, request: HttpRequest) -> bool:
        return may_pause(request)


@admin.action(
    description=_("Pause the types of the selected triggers…"), permissions=["pause_trigger_type"]
)
def pause_trigger_types(
    modeladmin: ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    types = sorted(set(queryset.order_by().values_list("trigger_type", flat=True).distinct()))
    known = trigger_classes()
    unknown = [t for t in types if t not in known]
    types = [t for t in types if t in known]
    if unknown:
        modeladmin.message_user(
            request,
            gettext("Not paused (no class has this type): %(types)s.")
            % {"types": ", ".join(unknown)},
            messages.WARNING,
        )
    if not types:
        return None
    form = PauseForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        for name in types:
            if controls.pause(name, reason=reason, user=request.user):
                text = gettext(
                    "Paused %(type)s: workers start none of its triggers until it is resumed."
                )
                modeladmin.message_user(request, text % {"type": name}, messages.SUCCESS)
            else:
                text = gettext("%(type)s was paused already.")
                modeladmin.message_user(request, text % {"type": name}, messages.WARNING)
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": gettext("Pause trigger types"),
        "types": types,
        "paused": controls.paused_types(),
        "form": form,
        "opts": opts,
        "select_across": request.POST.get("select_across") == "1",
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "djtriggers/admin/pause_types.html", context)


def paused_notice(modeladmin: ModelAdmin[Any], request: HttpRequest, trigger_type: str) -> None:
    """On the trigger list filtered to one type: say that it is paused, or limited."""
    row = PausedType.objects.filter(trigger_type=trigger_type).first()
    if row is not None:
        text = gettext(
            "%(type)s is PAUSED since %(time)s by %(who)s (%(reason)s): workers start none of "
            "its triggers until it is resumed on the list of paused types."
        ) % {
            "type": trigger_type,
            "time": f"{timezone.localtime(row.paused_at):%Y-%m-%d %H:%M}",
            "who": row.username or gettext("code"),
            "reason": row.reason or gettext("no reason given"),
        }
        modeladmin.message_user(request, text, messages.WARNING)
    limit = controls.limits().get(trigger_type)
    if limit is not None:
        running = controls.running_counts([trigger_type])[trigger_type]
        text = gettext("At most %(limit)d of these run at once; %(running)d running now.")
        modeladmin.message_user(request, text % {"limit": limit, "running": running}, messages.INFO)


@admin.action(description=_("Resume the selected types"), permissions=["pause_trigger_type"])
def resume_types(
    modeladmin: ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    names = list(queryset.values_list("trigger_type", flat=True))
    resumed = [name for name in names if controls.resume(name, user=request.user)]
    text = ngettext(
        "Resumed %(count)d type: %(types)s.", "Resumed %(count)d types: %(types)s.", len(resumed)
    )
    modeladmin.message_user(
        request, text % {"count": len(resumed), "types": ", ".join(resumed)}, messages.SUCCESS
    )


class PausedTypeAdmin(PausePermissionMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The paused types; resuming is an action (deleting a row would leave no audit trail)."""

    list_display = ["trigger_type", "paused_at", "username", "reason", "backlog", "triggers"]
    list_display_links = None
    actions = [resume_types]
    ordering = ["trigger_type"]

    class Media:
        css = {"all": ["djtriggers/admin.css"]}

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The due backlogs of the page's types, in one query.
        self._backlog = {p.trigger_type: p for p in controls.paused_with_backlog()}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("due backlog"))
    def backlog(self, obj: PausedType) -> str:
        item = getattr(self, "_backlog", {}).get(obj.trigger_type)
        if item is None or not item.due:
            return gettext("none due")
        age = item.oldest_due_age_seconds or 0
        return gettext("%(count)d due, the oldest for %(seconds).0fs") % {
            "count": item.due,
            "seconds": age,
        }

    @admin.display(description=_("triggers"))
    def triggers(self, obj: PausedType) -> str:
        url = reverse(f"{self.admin_site.name}:djtriggers_trigger_changelist")
        return format_html(
            '<a href="{}?type={}&amp;status=due">{}</a>', url, obj.trigger_type, gettext("due ones")
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_pause(request) or bool(request.user.has_perm("djtriggers.view_trigger"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # pause from the trigger list, the dashboard, Python or the command

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
