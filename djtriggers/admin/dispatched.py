"""How the admin shows a trigger dispatched to a task and not started yet (see dispatch.py).

Such a trigger is ``running`` in the database, held by ``dispatched:<token>``
until its deadline; past that, the dispatcher publishes it again. The admin
calls it "dispatched" (its badge, a choice of the status filter) and shows the
deadline: display only, the stored states stay as they are.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from .. import dispatch
from ..lifecycle import State
from ..models import Trigger

# The status filter's choice (?status=dispatched) and the badge's CSS class.
DISPATCHED = "dispatched"
LABEL = _("dispatched, not started")


def badge(obj: Trigger) -> tuple[str, str]:
    """The badge of ``obj``'s status: (CSS class, label)."""
    if dispatch.is_dispatched(obj):
        return DISPATCHED, gettext("dispatched")
    status = obj.status
    return str(status), status.label.lower()


def deadline(obj: Trigger, now: datetime | None = None) -> str:
    """Under a dispatched trigger's badge: its deadline, and how far past it is."""
    if not dispatch.is_dispatched(obj) or obj.locked_until is None:
        return ""
    now = now or timezone.now()
    when = f"{timezone.localtime(obj.locked_until):%H:%M:%S}"
    if obj.locked_until >= now:
        # Translators: a time of day, "21:05:30": published again if no task starts it by then.
        text = pgettext("a deadline", "by %(time)s") % {"time": when}
        return format_html('<span class="djt-deadline">{}</span>', text)
    late = timesince(obj.locked_until, now, depth=1)
    # Translators: the time is Django's timesince, "3 minutes".
    text = gettext("%(time)s past its deadline") % {"time": late}
    return format_html('<span class="djt-overdue">{}</span>', text)


def holder(obj: Trigger, now: datetime | None = None) -> str:
    """On the trigger's page: who holds a running trigger, until when ("" if nobody does)."""
    if obj.state != State.RUNNING or not obj.locked_by:
        return ""
    until = obj.locked_until
    when = f"{timezone.localtime(until):%Y-%m-%d %H:%M:%S}" if until else "-"
    if dispatch.is_dispatched(obj):
        now = now or timezone.now()
        if until is not None and until < now:
            text = gettext(
                "Dispatched to a task (%(holder)s), not started by its deadline %(when)s: "
                "the dispatcher publishes it again at its next sweep."
            )
        else:
            text = gettext(
                "Dispatched to a task (%(holder)s), not started yet: if no task starts it "
                "by %(when)s, the dispatcher publishes it again."
            )
    else:
        text = gettext("Running on %(holder)s, its lease until %(when)s.")
    return text % {"holder": obj.locked_by, "when": when}
