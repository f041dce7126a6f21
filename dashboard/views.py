"""The dashboard's views: the page and its fragments, JSON, health, metrics, and actions.

Every view is for staff only and checks the same permissions as the admin;
the page works without JavaScript, and htmx requests get just the fragment
they asked for (``request.htmx.target``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required as _staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from djtriggers import actions, controls, dispatch, schedules
from djtriggers import views as core_views
from djtriggers.actions import Action
from djtriggers.exceptions import UnknownTriggerType
from djtriggers.forms import ActionForm
from djtriggers.lifecycle import Status
from djtriggers.models import Schedule, Trigger
from djtriggers.registry import trigger_types

from . import stats
from .conf import settings
from .filters import TriggerFilter
from .http import HtmxHttpRequest

P = ParamSpec("P")
R = TypeVar("R", bound=HttpRequest)
PAGE_SIZE = 50
TEMPLATE = "dashboard/index.html"
# The event every mutating view sends, and the live parts listen for.
CHANGED_EVENT = "triggers-changed"
# The actions of djtriggers.actions that the dashboard offers: on a row, those
# that change triggers (processing now stays in the admin); on a failure group,
# those of them that apply to failed triggers.
ROW_ACTIONS = {name: a for name, a in actions.ACTIONS.items() if a.transition is not None}
GROUP_ACTIONS = {name: a for name, a in ROW_ACTIONS.items() if Status.FAILED in a.statuses}


def _must_view(request: HttpRequest) -> None:
    if not request.user.has_perm("djtriggers.view_trigger"):
        raise PermissionDenied


def _login_url() -> str:
    return reverse(f"{settings.DASHBOARD_ADMIN_SITE}:login")


V = TypeVar("V", bound=Callable[..., HttpResponse])


def staff_only(view: V) -> V:
    """Staff only; others log in on the admin site the dashboard links to (found per request)."""
    return _staff_member_required(view, login_url=lazy(_login_url, str)())


def on_admin_site(
    view: Callable[Concatenate[R, P], HttpResponse],
) -> Callable[Concatenate[R, P], HttpResponse]:
    """The page's links to the admin ({% url 'admin:...' %}) open on the site
    named by DJTRIGGERS_DASHBOARD_ADMIN_SITE, as the admin's own pages do."""

    @wraps(view)
    def wrapper(request: R, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        request.current_app = settings.DASHBOARD_ADMIN_SITE
        return view(request, *args, **kwargs)

    return wrapper


# --- the page ------------------------------------------------------------------


@staff_only
@require_GET
@on_admin_site
def index(request: HtmxHttpRequest) -> HttpResponse:
    _must_view(request)
    target = request.htmx.target if request.htmx else None
    context: dict[str, Any] = {"refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS}
    if target != "djt-list":
        context.update(live_context())
    if target != "djt-live":
        context.update(list_context(request))
    context["group_actions"] = _allowed(request, GROUP_ACTIONS)
    context["may_pause"] = request.user.has_perm(controls.PERMISSION)
    context["may_toggle_schedules"] = request.user.has_perm(schedules.PERMISSION)
    if target in ("djt-live", "djt-list"):
        response = render(request, f"{TEMPLATE}#{target.removeprefix('djt-')}", context)
    else:
        response = render(request, TEMPLATE, context)
    # The same URL answers with the page or a fragment: caches must tell them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _allowed(request: HttpRequest, table: dict[str, Action]) -> list[Action]:
    return [action for action in table.values() if action.allowed(request.user)]


def live_context() -> dict[str, Any]:
    now = timezone.now()
    due = stats.due_by_type(now)
    matrix = stats.type_matrix(now, due=due)
    paused = controls.paused_with_backlog(now)
    counts = stats.status_counts(now, matrix=matrix)
    return {
        "counts": counts,
        **dispatched_context(now, running=counts[Status.RUNNING]),
        "matrix": matrix,
        "due_board": stats.due_board(now, due=due),
        "due_threshold": settings.HEALTH_MAX_DUE_AGE_SECONDS,
        "paused": paused,
        "paused_types": {item.trigger_type for item in paused},
        "limits": controls.limits(),
        "known_types": set(trigger_types()),
        "upcoming": stats.upcoming(),
        "schedules": schedule_rows(now),
        "failure_groups": stats.failure_groups(),
        "workers": stats.workers(now),
        "throughput": stats.throughput(now),
        "statuses": list(Status),  # {{ status }} is the value, {{ status.label }} its name
        "now": now,
    }


def dispatched_context(now: datetime, *, running: int) -> dict[str, Any]:
    """The triggers waiting for a task: shown while dispatch is on or any waits.

    No query while nothing runs (the counters say so), one while none of the
    running triggers is dispatched, two when some are.
    """
    waiting = dispatch.in_flight(now=now, running=running)
    kind = dispatch.mode()
    if kind is None and not waiting.count:
        return {"dispatched": None}
    oldest = waiting.oldest_dispatched
    return {
        "dispatched": waiting,
        "dispatch_mode": kind,
        "dispatched_age": max(now - oldest, timedelta(0)) if oldest else None,
    }


def schedule_rows(now: datetime) -> list[Schedule]:
    """Every schedule, its last outcome and why no worker runs it (if so), in one query."""
    rows = list(schedules.with_outcomes(Schedule.objects.all()))
    for row in rows:
        row.outcome = schedules.outcome(row, now)  # type: ignore[attr-defined]
        row.not_run = schedules.runnable(row)  # type: ignore[attr-defined]
    return rows


def list_context(request: HttpRequest) -> dict[str, Any]:
    """One page of the filtered list, by keyset (``?before=<id>``): no OFFSET, no COUNT."""
    filterset = TriggerFilter(request.GET, queryset=Trigger.objects.all())
    triggers: list[Trigger] = []
    error = ""
    before = request.GET.get("before", "")
    # isascii(): superscript and fullwidth digits pass str.isdigit() but are no trigger id.
    if before and not (before.isascii() and before.isdigit()):
        error = gettext("'before' must be a trigger id, not %(value)s.") % {"value": repr(before)}
    elif filterset.is_valid():
        qs = filterset.qs.order_by("-pk")
        if before:
            qs = qs.filter(pk__lt=int(before))
        triggers = list(qs[: PAGE_SIZE + 1])
    more = len(triggers) > PAGE_SIZE
    triggers = triggers[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    return {
        "filter": filterset,
        "triggers": triggers,
        "list_error": error,
        "next_before": triggers[-1].pk if more else None,
        "filter_query": query.urlencode(),
    }


# --- JSON --------------------------------------------------------------------------


@staff_only
@require_GET
def summary(request: HttpRequest) -> JsonResponse:
    _must_view(request)
    now = timezone.now()
    matrix = stats.type_matrix(now)
    return JsonResponse(
        {
            "counts": stats.status_counts(now, matrix=matrix),
            "by_type": matrix,
            "oldest_due_age_seconds": stats.oldest_due_age_seconds(now),
            "workers": [worker.as_json() for worker in stats.workers(now)],
        }
    )


@require_GET
def health_check(request: HttpRequest) -> JsonResponse:
    """200 when triggers flow, 503 with the reason when they do not. No login: route it yourself."""
    now = timezone.now()
    problems = []
    paused = controls.paused_with_backlog(now)
    for item in paused:
        age = item.oldest_due_age_seconds
        if age is not None and age > settings.HEALTH_MAX_DUE_AGE_SECONDS:
            problems.append(
                f"{item.trigger_type} is paused and its oldest due trigger has waited {age:.0f}s "
                f"(more than {settings.HEALTH_MAX_DUE_AGE_SECONDS:.0f}s; {item.due} due)"
            )
    oldest = stats.oldest_due_age_seconds(now, exclude_types=[p.trigger_type for p in paused])
    if oldest is not None and oldest > settings.HEALTH_MAX_DUE_AGE_SECONDS:
        problems.append(
            f"the oldest due trigger has waited {oldest:.0f}s "
            f"(more than {settings.HEALTH_MAX_DUE_AGE_SECONDS:.0f}s)"
        )
    threshold = settings.HEALTH_MAX_DUE_AGE_SECONDS
    for row in schedules.overdue(now - timedelta(seconds=threshold)):
        late = (now - (row.next_run_at or now)).total_seconds()
        problems.append(
            f"the schedule {row.pk} of {row.trigger_type} ({row.expression}) is {late:.0f}s "
            f"past its slot without a trigger (more than {threshold:.0f}s): does a worker "
            "run its type?"
        )
    late, first_deadline = dispatch.late(now - timedelta(seconds=threshold))
    if late and first_deadline is not None:
        counted = "1 dispatched trigger is" if late == 1 else f"{late} dispatched triggers are"
        problems.append(
            f"{counted} past the deadline by more than {threshold:.0f}s, "
            f"the oldest by {(now - first_deadline).total_seconds():.0f}s: no task started them "
            "and nothing published them again; is the dispatcher (run_triggers) running?"
        )
    if oldest is not None:
        workers = stats.workers(now)
        last = max((w.last_seen for w in workers), default=None)
        limit = settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS
        if last is None or (now - last).total_seconds() > limit:
            problems.append(f"triggers are due and no worker has sent a heartbeat for {limit:.0f}s")
    body = {
        "status": "unhealthy" if problems else "ok",
        "problems": problems,
        "oldest_due_age_seconds": oldest,
        "paused": [
            {
                "trigger_type": item.trigger_type,
                "paused_at": item.row.paused_at.isoformat(),
                "paused_by": item.row.username,
                "reason": item.row.reason,
                "due": item.due,
                "oldest_due_age_seconds": item.oldest_due_age_seconds,
            }
            for item in paused
        ],
    }
    return JsonResponse(body, status=503 if problems else 200)


@staff_only
def health(request: HttpRequest) -> JsonResponse:
    """``health_check`` for staff who may view triggers, as linked from the dashboard."""
    _must_view(request)
    return health_check(request)


@staff_only
def metrics(request: HttpRequest) -> HttpResponse:
    """djtriggers' Prometheus metrics for staff who may view triggers; a scraper, which
    cannot log in, gets them from ``djtriggers.views.metrics`` routed by the project."""
    _must_view(request)
    return core_views.metrics(request)


# --- actions -------------------------------------------------------------------------


@staff_only
@require_POST
@on_admin_site
def trigger_action(request: HtmxHttpRequest, pk: int, kind: str) -> HttpResponse:
    """An action on one trigger; one that needs a confirmation asks first."""
    action = ROW_ACTIONS.get(kind)
    if action is None:
        raise Http404(f"No action {kind!r}; use one of {', '.join(ROW_ACTIONS)}.")
    if not action.allowed(request.user):
        raise PermissionDenied
    trigger = get_object_or_404(Trigger, pk=pk)
    context: dict[str, Any] = {"trigger": trigger, "action": action}
    if action.confirm and request.POST.get("confirm") != "yes":
        return _row(request, "confirm_row", context, changed=False)
    form = ActionForm(action, request.POST)
    if not form.is_valid():
        context["error"] = _not_done(action, _first_error(form))
        return _row(request, "row_message", context, changed=False)
    report = actions.perform(
        action, Trigger.objects.filter(pk=pk), user=request.user, **form.values()
    )
    trigger.refresh_from_db()
    if report.changed:
        context["message"] = report.message()
    else:
        reasons = report.reasons() or gettext("nothing to do")
        # Translators: "Not cancelled: already processed."
        context["error"] = gettext("Not %(verb)s: %(reasons)s.") % {
            "verb": action.verb,
            "reasons": reasons,
        }
    return _row(request, "row_message", context, changed=bool(report.changed))


@staff_only
@require_POST
@on_admin_site
def group_action(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """An action on every failed trigger of a failure group; always asks first."""
    action = GROUP_ACTIONS.get(kind)
    if action is None:
        raise Http404(f"No group action {kind!r}; use one of {', '.join(GROUP_ACTIONS)}.")
    if not action.allowed(request.user):
        raise PermissionDenied
    trigger_type = request.POST.get("trigger_type", "")
    fingerprint = request.POST.get("fingerprint", "")
    queryset = stats.failure_group_queryset(trigger_type, fingerprint)
    context: dict[str, Any] = {
        "kind": kind,
        "action": action,
        "trigger_type": trigger_type,
        "fingerprint": fingerprint,
        "count": queryset.count(),
        "process_after": request.POST.get("process_after", ""),
        "priority": request.POST.get("priority", ""),
    }
    form = ActionForm(action, request.POST)
    if not form.is_valid():
        context["error"] = _not_done(action, _first_error(form))
        return _fragment(request, "group_message", context, changed=False)
    if request.POST.get("confirm") != "yes":
        return _fragment(request, "confirm_group", context, changed=False)
    report = actions.perform(action, queryset, user=request.user, **form.values())
    context["message"] = report.message()
    return _fragment(request, "group_message", context, changed=bool(report.changed))


def _first_error(form: ActionForm) -> str:
    return next(str(errors[0]) for errors in form.errors.values())


def _not_done(action: Action, error: str) -> str:
    # Translators: "Not rescheduled: " and why, a sentence of its own.
    return gettext("Not %(verb)s: %(error)s") % {"verb": action.verb, "error": error}


def _row(
    request: HtmxHttpRequest, partial: str, context: dict[str, Any], *, changed: bool
) -> HttpResponse:
    """A row rendered again, with every action the user may take on it now."""
    return _fragment(request, partial, context, changed=changed)


def _fragment(
    request: HtmxHttpRequest, partial: str, context: dict[str, Any], *, changed: bool
) -> HttpResponse:
    """The answer to an action: a fragment for htmx, a redirect with a message otherwise."""
    if not request.htmx:
        text = context.get("error") or context.get("message")
        if text:
            messages.add_message(
                request, messages.ERROR if context.get("error") else messages.SUCCESS, text
            )
        if partial.startswith("confirm"):
            return render(request, "dashboard/confirm.html", {**context, "partial": partial})
        return redirect("dashboard:index")
    response = render(request, f"{TEMPLATE}#{partial}", context)
    if changed:
        response["HX-Trigger"] = CHANGED_EVENT
    return response


@staff_only
@require_POST
@on_admin_site
def type_control(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """Pause or resume a type (djtriggers.controls), from the banner and the types' table."""
    if kind not in ("pause", "resume"):
        raise Http404(f"No type control {kind!r}; use pause or resume.")
    if not request.user.has_perm(controls.PERMISSION):
        raise PermissionDenied
    trigger_type = request.POST.get("trigger_type", "")
    context: dict[str, Any] = {"trigger_type": trigger_type}
    try:
        if kind == "pause":
            done = controls.pause(
                trigger_type, reason=request.POST.get("reason", ""), user=request.user
            )
            text = gettext("Paused %(type)s.") if done else gettext("%(type)s was paused already.")
        else:
            done = controls.resume(trigger_type, user=request.user)
            text = gettext("Resumed %(type)s.") if done else gettext("%(type)s was not paused.")
    except (UnknownTriggerType, ValueError) as exc:
        context["error"] = str(exc)
        return _fragment(request, "type_message", context, changed=False)
    context["message"] = text % {"type": trigger_type}
    return _fragment(request, "type_message", context, changed=done)


@staff_only
@require_POST
@on_admin_site
def schedule_control(request: HtmxHttpRequest, pk: int, kind: str) -> HttpResponse:
    """Disable or enable a schedule (djtriggers.schedules), from the schedules' panel."""
    if kind not in ("disable", "enable"):
        raise Http404(f"No schedule control {kind!r}; use disable or enable.")
    if not request.user.has_perm(schedules.PERMISSION):
        raise PermissionDenied
    schedule = get_object_or_404(Schedule, pk=pk)
    context: dict[str, Any] = {"trigger_type": schedule.trigger_type}
    reason = request.POST.get("reason", "")
    try:
        if kind == "disable":
            done = schedules.disable(schedule, reason=reason, user=request.user)
            text = (
                gettext("Disabled the schedule of %(type)s.")
                if done
                else gettext("The schedule of %(type)s was disabled already.")
            )
        else:
            done = schedules.enable(schedule, reason=reason, user=request.user)
            text = (
                gettext("Enabled the schedule of %(type)s.")
                if done
                else gettext("The schedule of %(type)s was enabled already.")
            )
    except ValueError as exc:
        context["error"] = str(exc)
        return _fragment(request, "type_message", context, changed=False)
    context["message"] = text % {"type": schedule.trigger_type}
    return _fragment(request, "type_message", context, changed=done)
