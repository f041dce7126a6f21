from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.translation import pgettext

from djtriggers import actions
from djtriggers.actions import Action
from djtriggers.admin import dispatched
from djtriggers.models import Trigger

from .. import charts
from ..stats import DueRow, Throughput

register = template.Library()


@register.simple_tag(takes_context=True)
def row_actions(context: template.Context, trigger: Trigger) -> list[Action]:
    """A row's buttons: the dashboard's actions that apply to it and the user may take now."""
    from ..views import ROW_ACTIONS

    user = context["request"].user
    return [a for a in actions.for_trigger(trigger, user) if a.name in ROW_ACTIONS]


@register.filter
def badge(trigger: Trigger) -> tuple[str, str]:
    """A row's status badge, (CSS class, label): as in the admin ("dispatched" too)."""
    return dispatched.badge(trigger)


@register.filter
def direct(actions: list[Action]) -> list[Action]:
    """The actions that are a button: they ask for nothing."""
    return [a for a in actions if not a.asks]


@register.filter
def asking(actions: list[Action]) -> list[Action]:
    """The actions that ask for a value first: the dashboard keeps them in a disclosure."""
    return [a for a in actions if a.asks]


@register.filter
def duration(value: timedelta | float | None) -> str:
    """3s, 4m 10s, 2h 5m, 3d 4h."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 60:
        return pgettext("duration: seconds", "%(seconds)ds") % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    parts = {"minutes": minutes, "seconds": seconds}
    if minutes < 60:
        return pgettext("duration: minutes and seconds", "%(minutes)dm %(seconds)ds") % parts
    hours, minutes = divmod(minutes, 60)
    parts = {"hours": hours, "minutes": minutes}
    if hours < 24:
        return pgettext("duration: hours and minutes", "%(hours)dh %(minutes)dm") % parts
    days, hours = divmod(hours, 24)
    parts = {"days": days, "hours": hours}
    return pgettext("duration: days and hours", "%(days)dd %(hours)dh") % parts


@register.filter
def since(later: datetime, earlier: datetime) -> timedelta:
    """The time from ``earlier`` to ``later`` (for "due in ...")."""
    return later - earlier


@register.filter
def get(mapping: dict[str, object], key: str) -> object:
    return mapping.get(key, "")


@register.inclusion_tag("dashboard/charts.html#throughput")
def throughput_chart(data: Throughput) -> dict[str, object]:
    """Processed and failed per minute: an inline SVG with axes, a legend and the numbers."""
    return {
        "chart": charts.throughput_chart(data),
        "time_zone": timezone.get_current_timezone_name(),
        "width": charts.WIDTH,
        "height": charts.HEIGHT,
        "left": charts.LEFT,
        "right": charts.RIGHT,
        "top": charts.TOP,
        "bottom": charts.BOTTOM,
        "plot_height": charts.BOTTOM - charts.TOP,
    }


@register.inclusion_tag("dashboard/charts.html#lag")
def lag_chart(rows: list[DueRow], threshold: float) -> dict[str, object]:
    """The due board's lags, p50 and p95 per type, against the due threshold."""
    return {"chart": charts.lag_chart(rows, threshold)}
