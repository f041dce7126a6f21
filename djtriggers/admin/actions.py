"""The admin actions: reprocess, reschedule, cancel, process now and change priority.

Their names are part of the API. Each is an entry of ``djtriggers.actions``:
shown only to users with its permission (Django refuses a posted action that
``get_actions`` did not offer, and ``actions.perform`` checks again), run by
``actions.perform`` with its audit trail. An action that asks for a time, a
period or a confirmation first shows a page with its form; the page posts
back to the changelist with ``post=yes``, as Django's delete action does.
That page is the ModelAdmin's ``action_confirmation_template`` if set, else the
first of ``admin/<app>/<model>/action_confirmation.html``,
``admin/<app>/action_confirmation.html`` and ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import actions
from ..actions import PROCESS_NOW_LIMIT, Action
from ..forms import ActionForm
from ..lifecycle import states_for
from .templates import template_names

if TYPE_CHECKING:
    from .pages import TriggerPageMixin as TriggerAdmin

__all__ = [
    "PROCESS_NOW_LIMIT",
    "cancel_triggers",
    "change_priority",
    "process_triggers_now",
    "reprocess_triggers",
    "reprocess_triggers_paced",
    "reschedule_triggers",
]


@admin.action(
    description=_("Reprocess selected triggers (due now, fresh tries)"), permissions=["reprocess"]
)
def reprocess_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return run(modeladmin, request, queryset, actions.REPROCESS)


@admin.action(description=_("Reprocess selected triggers, paced…"), permissions=["reprocess"])
def reprocess_triggers_paced(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """Spread the triggers over a period, so a system that was down is not flooded."""
    return run(modeladmin, request, queryset, actions.REPROCESS, spread=True)


@admin.action(description=_("Reschedule selected triggers…"), permissions=["reschedule"])
def reschedule_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return run(modeladmin, request, queryset, actions.RESCHEDULE)


@admin.action(description=_("Cancel selected triggers…"), permissions=["cancel"])
def cancel_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return run(modeladmin, request, queryset, actions.CANCEL)


@admin.action(description=_("Change the priority of selected triggers…"), permissions=["change"])
def change_priority(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """A new priority for pending, due and failed triggers (0 runs first, 9 last)."""
    return run(modeladmin, request, queryset, actions.PRIORITY)


@admin.action(
    description=format_lazy(
        _("Process selected triggers now (at most {limit})"), limit=actions.PROCESS_NOW_LIMIT
    ),
    permissions=["reprocess"],
)
def process_triggers_now(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    try:
        outcomes = actions.process(
            queryset, user=request.user, reason=request.POST.get("reason", "")[:1000]
        )
    except actions.ActionError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    for trigger, text, ok in outcomes:
        level = {True: messages.SUCCESS, False: messages.ERROR, None: messages.WARNING}[ok]
        modeladmin.message_user(request, f"{trigger}: {text}", level)


def run(
    modeladmin: TriggerAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    action: Action,
    *,
    spread: bool = False,
) -> HttpResponse | None:
    """Act on ``queryset`` at once, or once its form (or confirmation) is posted."""
    asks = action.needs_time or action.needs_priority or action.confirm or spread
    if asks and request.POST.get("post") != "yes":
        form = ActionForm(action, spread=spread)
    else:
        form = ActionForm(action, request.POST, spread=spread)
        if form.is_valid():
            report = actions.perform(action, queryset, user=request.user, **form.values())
            level = messages.SUCCESS if report.changed else messages.WARNING
            modeladmin.message_user(request, report.message(), level)
            return None
        if not asks:  # only the reason can be wrong
            for error in form.errors.values():
                message = gettext("Nothing done: %(error)s") % {"error": error[0]}
                modeladmin.message_user(request, message, messages.ERROR)
            return None
    return confirmation_page(modeladmin, request, queryset, action, form)


def confirmation_page(
    modeladmin: TriggerAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    action: Action,
    form: ActionForm,
) -> TemplateResponse:
    """What will change and what will be skipped, counted in one query, and the form."""
    opts = modeladmin.model._meta
    by_state = dict(
        queryset.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    applies_to = states_for(action.statuses)
    will_change = sum(n for state, n in by_state.items() if state in applies_to)
    skipped = {
        actions.SKIP_REASONS.get(state, state): n
        for state, n in sorted(by_state.items())
        if state not in applies_to
    }
    context = {
        **modeladmin.admin_site.each_context(request),
        # Translators: the title of an action's page, "Reschedule triggers".
        "title": gettext("%(action)s triggers") % {"action": action.label},
        "kind": action.name,
        "label": action.label,
        "verb": action.verb,
        "form": form,
        "will_change": will_change,
        "skipped": skipped,
        "sample": list(queryset.filter(state__in=applies_to).order_by("pk")[:20]),
        "select_across": request.POST.get("select_across") == "1",
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action"),
        "opts": opts,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    # The page's links (breadcrumbs, the triggers) go to the admin site it is on.
    request.current_app = modeladmin.admin_site.name
    # getattr: these actions also serve ModelAdmins that are not a TriggerAdmin.
    template = getattr(modeladmin, "action_confirmation_template", None) or template_names(
        opts, "action_confirmation", "djtriggers/admin/action_confirmation.html"
    )
    return TemplateResponse(request, template, context)
