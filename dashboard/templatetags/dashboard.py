from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext

from djtriggers import actions
from djtriggers.actions import Action
from djtriggers.models import Trigger

from ..stats import Throughput

register = template.Library()

WIDTH, HEIGHT = 600, 120


@register.simple_tag(takes_context=True)
def row_actions(context: template.Context, trigger: Trigger) -> list[Action]:
    """A row's buttons: the dashboard's actions that apply to it and the user may take now."""
    from ..views import ROW_ACTIONS

    user = context["request"].user
    return [a for a in actions.for_trigger(trigger, user) if a.name in ROW_ACTIONS]


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


@register.simple_tag
def throughput_chart(data: Throughput) -> SafeString:
    """Processed and failed per minute as an inline SVG: no chart library."""
    step = WIDTH / max(len(data.minutes) - 1, 1)
    peak = data.peak

    def points(values: list[int]) -> str:
        return " ".join(
            f"{i * step:.1f},{HEIGHT - value * (HEIGHT - 10) / peak:.1f}"
            for i, value in enumerate(values)
        )

    first = data.minutes[0].strftime("%H:%M") if data.minutes else ""
    last = data.minutes[-1].strftime("%H:%M") if data.minutes else ""
    # Translators: the chart's peak, in triggers per minute.
    peak_label = gettext("%(count)d/min") % {"count": peak}
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="djt-axis">{}</text>',
        [(2, 12, peak_label), (2, HEIGHT + 14, first), (WIDTH - 34, HEIGHT + 14, last)],
    )
    return format_html(
        '<svg class="djt-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<line x1="0" y1="{base}" x2="{w}" y2="{base}" class="djt-baseline"/>'
        '<polyline points="{ok}" class="djt-line-processed"/>'
        '<polyline points="{ko}" class="djt-line-failed"/>{labels}</svg>',
        label=gettext("Processed and failed per minute over the last hour"),
        w=WIDTH,
        h=HEIGHT + 18,
        base=HEIGHT,
        ok=points(data.processed),
        ko=points(data.failed),
        labels=labels,
    )
