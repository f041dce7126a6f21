"""The admin actions: reprocess, reschedule, cancel and process now.

Their names are part of the API. Each is shown only to users with its
permission, and Django refuses a posted action that ``get_actions`` did not
offer, so the permission is checked on the server too. Reschedule and cancel
(and a paced reprocess) first show a page with a form; it posts back to the
changelist with ``post=yes``, as Django's delete action does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .. import operations
from ..exceptions import ProcessError, ProcessLaterError, UnknownTriggerType
from ..models import OperatorAction, Trigger
from ..states import CANCELLABLE, REVIVABLE, State
from .forms import CancelForm, ReprocessForm, RescheduleForm

if TYPE_CHECKING:
    from django import forms

    from .pages import TriggerPageMixin as TriggerAdmin

# Processing now runs in the web request: only for a handful of triggers.
PROCESS_NOW_LIMIT = 20


@admin.action(
    description="Reprocess selected triggers (due now, fresh tries)", permissions=["reprocess"]
)
def reprocess_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    _act(modeladmin, request, queryset, OperatorAction.Kind.REPROCESS, None)


@admin.action(description="Reprocess selected triggers, paced…", permissions=["reprocess"])
def reprocess_triggers_paced(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """Spread the triggers over a period, so a system that was down is not flooded."""
    return _with_form(
        modeladmin, request, queryset, OperatorAction.Kind.REPROCESS, ReprocessForm, REVIVABLE
    )


@admin.action(description="Reschedule selected triggers…", permissions=["reschedule"])
def reschedule_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return _with_form(
        modeladmin, request, queryset, OperatorAction.Kind.RESCHEDULE, RescheduleForm, REVIVABLE
    )


@admin.action(description="Cancel selected triggers…", permissions=["cancel"])
def cancel_triggers(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    return _with_form(
        modeladmin, request, queryset, OperatorAction.Kind.CANCEL, CancelForm, CANCELLABLE
    )


@admin.action(
    description=f"Process selected triggers now (at most {PROCESS_NOW_LIMIT})",
    permissions=["reprocess"],
)
def process_triggers_now(
    modeladmin: TriggerAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    triggers = list(queryset.order_by("pk")[: PROCESS_NOW_LIMIT + 1])
    if len(triggers) > PROCESS_NOW_LIMIT:
        modeladmin.message_user(
            request,
            f"Processing now runs in this request: select at most {PROCESS_NOW_LIMIT} triggers, "
            "or reprocess them for the workers.",
            messages.ERROR,
        )
        return
    ran = []
    for trigger in triggers:
        outcome, level, did_run = _process_one(trigger)
        modeladmin.message_user(request, f"{trigger}: {outcome}", level)
        if did_run:  # the attempt is on the trigger's timeline; the operator in the admin log
            modeladmin.log_change(request, trigger, f"Processed now: {outcome}")
            ran.append(trigger)
    if ran:
        operations.record_processing(
            ran, user=request.user, reason=request.POST.get("reason", "")[:1000]
        )


def _process_one(trigger: Trigger) -> tuple[str, int, bool]:
    """Process one trigger; how it went, its message level, and whether _process ran."""
    state, process_after = trigger.state, trigger.process_after
    try:
        trigger.process()
    except ProcessLaterError as exc:  # not due: nothing ran
        when = f"{exc.process_after:%Y-%m-%d %H:%M:%S}"
        return f"not due until {when}; reprocess it to make it due now", messages.WARNING, False
    except ProcessError as exc:
        return f"failed ({exc}); try {trigger.number_of_tries} recorded", messages.ERROR, True
    except UnknownTriggerType as exc:
        return f"not processed: {exc}", messages.ERROR, False
    except Trigger.DoesNotExist:
        return "deleted meanwhile", messages.WARNING, False
    if trigger.state == State.PROCESSED and state != State.PROCESSED:
        return "processed", messages.SUCCESS, True
    if trigger.state == State.SCHEDULED and trigger.process_after != process_after:
        when = f"{trigger.process_after:%Y-%m-%d %H:%M:%S}"
        return f"asked to run again at {when}", messages.SUCCESS, True
    if trigger.state == State.SCHEDULED:
        return "left alone: a worker is processing it", messages.WARNING, False
    return f"left alone: {operations.SKIP_REASONS[trigger.state]}", messages.WARNING, False


def _with_form(
    modeladmin: TriggerAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    kind: str,
    form_class: type[forms.Form],
    applies_to: tuple[str, ...],
) -> HttpResponse | None:
    if request.POST.get("post") == "yes":
        form = form_class(request.POST)
        if form.is_valid():
            _act(modeladmin, request, queryset, kind, form.cleaned_data)
            return None
    else:
        form = form_class()
    return _confirmation_page(modeladmin, request, queryset, kind, form, applies_to)


def _act(
    modeladmin: TriggerAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    kind: str,
    data: dict[str, Any] | None,
) -> None:
    data = data or {}
    report = operations.perform(
        kind,
        queryset,
        user=request.user,
        reason=data.get("reason", ""),
        when=data.get("process_after"),
        spread=data.get("spread"),
    )
    modeladmin.log_operator_action(request, report)
    level = messages.SUCCESS if report.changed else messages.WARNING
    modeladmin.message_user(request, report.message(), level)


def _confirmation_page(
    modeladmin: TriggerAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    kind: str,
    form: forms.Form,
    applies_to: tuple[str, ...],
) -> TemplateResponse:
    """What will change and what will be skipped, counted in one query, and the form."""
    opts = modeladmin.model._meta
    by_state = dict(
        queryset.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    will_change = sum(n for state, n in by_state.items() if state in applies_to)
    skipped = {
        operations.SKIP_REASONS[state]: n
        for state, n in sorted(by_state.items())
        if state not in applies_to
    }
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{kind.capitalize()} triggers",
        "kind": kind,
        "verb": operations.VERBS[kind],
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
    return TemplateResponse(request, "djtriggers/admin/action_confirmation.html", context)
