"""A trigger's own page: read-only system fields, a timeline, and buttons for the actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from .. import actions, corrections
from ..actions import Action
from ..forms import ActionForm
from ..models import Trigger
from ..registry import trigger_classes
from . import dispatched
from .actions import process_triggers_now
from .templates import template_names
from .timeline import timeline

# The name of the "Save and reprocess" button in the change form.
REPROCESS_BUTTON = "_reprocess"

if TYPE_CHECKING:
    _Base = admin.ModelAdmin[Any]
else:
    # A plain mixin at run time: were it a ModelAdmin, ModelAdmin would come
    # before import-export's mixin in TriggerAdmin's MRO and hide its URLs.
    _Base = object


class TriggerPageMixin(_Base):
    """For TriggerAdmin: the change page's extras and the POST views of its buttons."""

    # The custom permissions of Trigger.Meta.permissions, for the admin actions'
    # ``permissions``: each is the permission of its entry in djtriggers.actions.

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return actions.REPROCESS.allowed(request.user)

    def has_reschedule_permission(self, request: HttpRequest) -> bool:
        return actions.RESCHEDULE.allowed(request.user)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return actions.CANCEL.allowed(request.user)

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only the edited fields: a full save would write back the state, tries
        # and lock read at the start of this request, undoing a worker's progress.
        # A new process_after is a reschedule, with its permission and audit; the
        # own data is a correction (corrections.py), audited with its old values.
        own = {f.name for f in corrections.own_fields(type(obj))}
        corrected = [name for name in form.changed_data if name in own]
        fields = [
            name
            for name in form.changed_data
            if _is_concrete(obj, name) and name != "process_after" and name not in own
        ]
        if corrected or REPROCESS_BUTTON in request.POST:
            correction = corrections.save(
                obj, corrected, user=request.user, reprocess=REPROCESS_BUTTON in request.POST
            )
            report = correction.reprocessed
            level = messages.WARNING if report and not report.changed else messages.SUCCESS
            self.message_user(request, correction.message(), level)
        if fields:
            obj.save(update_fields=fields)
        if "process_after" in form.changed_data:
            when = form.cleaned_data["process_after"]
            queryset = Trigger._base_manager.filter(pk=obj.pk)
            report = actions.perform(actions.RESCHEDULE, queryset, user=request.user, when=when)
            level = messages.SUCCESS if report.changed else messages.WARNING
            # Translators: the outcome of editing the field, "Process after: 1 rescheduled".
            message = gettext("Process after: %(message)s") % {"message": report.message()}
            self.message_user(request, message, level)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if REPROCESS_BUTTON in request.POST and not actions.REPROCESS.allowed(request.user):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None:
            extra["timeline"] = timeline(obj)
            extra["trigger_status"] = obj.status
            extra["trigger_badge"] = dispatched.badge(obj)
            extra["trigger_holder"] = dispatched.holder(obj)
            extra["object_actions"] = self._object_actions(request, obj)
            extra.update(self._correction_context(request, obj))
        return super().change_view(request, object_id, form_url, extra)

    def _correction_context(self, request: HttpRequest, obj: Trigger) -> dict[str, Any]:
        """Save and reprocess, for a trigger whose own data may be corrected now; on the
        Trigger admin's page of a trigger with own data, a link to its class's page."""
        if not corrections.own_fields(type(obj)):
            return {"own_data_url": self._own_data_url(request, obj)}
        if not corrections.editable(obj):
            # Translators: the statuses are "pending, due, failed".
            note = gettext("Its data can be corrected only while it is %(statuses)s.")
            return {"correction_note": note % {"statuses": corrections.editable_statuses()}}
        return {
            "reprocess_button": self.has_change_permission(request, obj)
            and actions.REPROCESS.allowed(request.user)
        }

    def _own_data_url(self, request: HttpRequest, obj: Trigger) -> str | None:
        """The trigger's page in the admin of its class on this site, if that has own data."""
        classes = trigger_classes().get(obj.trigger_type)
        if not classes or not corrections.own_fields(classes[0]):
            return None
        typed_admin = self.admin_site._registry.get(classes[0])
        if typed_admin is None or not typed_admin.has_view_or_change_permission(request):
            return None
        opts = classes[0]._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if REPROCESS_BUTTON in request.POST:
            # Stay on the trigger's page: its timeline shows the correction and the reprocess.
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        """A trigger's page: ``change_form_template`` if set, else the first of
        ``admin/<app>/<model>/change_form.html``, ``admin/<app>/change_form.html``
        and ours (which extends ``admin/change_form.html``)."""
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if not add and self.change_form_template is None and isinstance(response, TemplateResponse):
            response.template_name = template_names(
                self.opts, "change_form", "djtriggers/admin/trigger_change_form.html"
            )
        return response

    def _url(self, name: str, *args: Any) -> str:
        """The URL of one of this admin's views, on the admin site it is registered on."""
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _object_actions(self, request: HttpRequest, obj: Trigger) -> list[dict[str, Any]]:
        """The buttons of the actions that apply to the trigger and that the user may take."""
        return [
            {
                "action": action,
                "kind": action.name,
                "label": action.label,
                "url": self._url(action.name, quote(obj.pk)),
                "form": (
                    ActionForm(action, auto_id=f"id_{action.name}_%s")
                    if action.needs_time or action.needs_priority or action.confirm
                    else None
                ),
            }
            for action in actions.for_trigger(obj, request.user)
        ]

    def get_urls(self) -> list[URLPattern]:
        info = self.model._meta.app_label, self.model._meta.model_name
        view = self.admin_site.admin_view
        return [
            path(
                f"<path:object_id>/{name}/",
                view(require_POST(self._object_action_view(action))),
                name=f"{info[0]}_{info[1]}_{name}",
            )
            for name, action in actions.ACTIONS.items()
        ] + super().get_urls()

    def _object_action_view(self, action: Action) -> Any:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            return self.object_action(request, object_id, action)

        return view

    def object_action(self, request: HttpRequest, object_id: str, action: Action) -> HttpResponse:
        """A button on the trigger's page: the same action as in the list, on one row."""
        # The action's permission, and that of the page the button is on.
        if not (action.allowed(request.user) and self.has_view_or_change_permission(request)):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No trigger with id {object_id!r}.")
        change_url = self._url("change", quote(obj.pk))
        queryset = self.get_queryset(request).filter(pk=obj.pk)
        if action is actions.PROCESS:
            process_triggers_now(self, request, queryset)
            return HttpResponseRedirect(change_url)
        # An action that asks for a time or a confirmation has its own form on
        # the trigger's page (see _object_actions): posting it is the answer.
        form = ActionForm(action, request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    # Translators: "Not rescheduled: " and why, a sentence of its own.
                    message = gettext("Not %(verb)s: %(error)s") % {
                        "verb": action.verb,
                        "error": error,
                    }
                    self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(change_url)
        report = actions.perform(action, queryset, user=request.user, **form.values())
        level = messages.SUCCESS if report.changed else messages.WARNING
        self.message_user(request, report.message(), level)
        return HttpResponseRedirect(change_url)


def _is_concrete(obj: Model, name: str) -> bool:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:  # a form field of its own
        return False
    return bool(field.concrete) and not field.many_to_many
