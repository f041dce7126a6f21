from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from ..lifecycle import Status
from ..models import Trigger
from .templates import template_names

# How many triggers the object's page lists (newest first).
SHOWN = 20


if TYPE_CHECKING:
    _Base = admin.ModelAdmin[Any]
else:  # a plain mixin at run time, put before the ModelAdmin it extends
    _Base = object


class SourceTriggersMixin(_Base):
    """For a ModelAdmin: the object's page lists the triggers whose source points at it.

    The default source of an object is ``"<app_label>.<model_name>$<pk>"``, what
    ``trigger.set_source(obj._meta.label_lower, obj.pk)`` stores; override
    ``get_trigger_source`` if your triggers name their objects differently.

    The triggers link to the ``Trigger`` admin of the admin site the page is on,
    when that site has one. The page is ``change_form_template`` if set on your
    ModelAdmin, else the first of ``admin/<app>/<model>/change_form.html``,
    ``admin/<app>/change_form.html`` and ``djtriggers/admin/source_change_form.html``
    (extend that one to keep the triggers).
    """

    # None here, over what the ModelAdmin this is mixed into may set: the page
    # must be one that shows the triggers (see render_change_form).
    change_form_template = None

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
        obj = self.get_object(request, unquote(object_id))
        site = self.admin_site
        trigger_admin = site.get_model_admin(Trigger) if site.is_registered(Trigger) else None
        if trigger_admin is not None:
            may_view = trigger_admin.has_view_or_change_permission(request)
        else:  # listed, without links: this site has no admin to show them
            may_view = _may_view_triggers(request)
        if obj is not None and may_view:
            source = self.get_trigger_source(obj)
            triggers = Trigger.objects.filter(source=source)
            extra["source_triggers"] = list(triggers.order_by("-id")[:SHOWN])
            # Status keys: the page shows each one's label.
            extra["source_trigger_counts"] = {
                Status(status): n for status, n in triggers.status_counts().items() if n
            }
            extra["source_trigger_query"] = source
            # For {% url source_trigger_opts|admin_urlname:... %}, on this site.
            extra["source_trigger_opts"] = Trigger._meta if trigger_admin else None
        response: HttpResponse = super().change_view(request, object_id, form_url, extra)
        return response

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        response: HttpResponse = super().render_change_form(
            request, context, add, change, form_url, obj
        )
        if not add and self.change_form_template is None and isinstance(response, TemplateResponse):
            response.template_name = template_names(
                context["opts"], "change_form", "djtriggers/admin/source_change_form.html"
            )
        return response


def _may_view_triggers(request: HttpRequest) -> bool:
    return any(
        request.user.has_perm(f"djtriggers.{action}_trigger") for action in ("view", "change")
    )
