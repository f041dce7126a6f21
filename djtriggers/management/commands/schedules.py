from __future__ import annotations

from typing import Any

from django.core.management import CommandError
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from djtriggers import schedules
from djtriggers.models import Schedule

from ._options import TriggersCommand


class Command(TriggersCommand):
    help = gettext_noop(
        "List the recurring schedules with their next and last run (the default), "
        "make the declared ones match their classes (--sync), or disable and enable one."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--list", action="store_true", help=gettext("List the schedules (the default).")
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help=gettext(
                "Create and update the schedules the classes declare (workers do it too)."
            ),
        )
        parser.add_argument(
            "--disable", type=int, metavar="ID", help=gettext("Disable the schedule with this id.")
        )
        parser.add_argument(
            "--enable", type=int, metavar="ID", help=gettext("Enable the schedule with this id.")
        )
        parser.add_argument("--reason", default="", help=gettext("Why, for the audit trail."))

    def handle(self, *args: Any, **options: Any) -> None:
        toggles = [options["disable"] is not None, options["enable"] is not None]
        if sum([options["list"], options["sync"], *toggles]) > 1:
            raise CommandError(gettext("Give one of --list, --sync, --disable or --enable."))
        if any(toggles):
            self._toggle(options)
            return
        if options["sync"]:
            self._sync()
            return
        self._list()

    def _sync(self) -> None:
        report = schedules.sync()
        for name in report.created:
            self.stdout.write(gettext("Created the schedule of %(type)s.") % {"type": name})
        for name in report.updated:
            self.stdout.write(gettext("Updated the schedule of %(type)s.") % {"type": name})
        for row in report.undeclared:
            self.stdout.write(
                gettext(
                    "Schedule %(id)d of %(type)s: its class declares no schedule any more; "
                    "no worker runs it (delete it in the admin)."
                )
                % {"id": row.pk, "type": row.trigger_type}
            )
        if not (report.created or report.updated or report.undeclared):
            self.stdout.write(gettext("The declared schedules match their classes."))

    def _toggle(self, options: dict[str, Any]) -> None:
        enable = options["enable"] is not None
        pk = options["enable"] if enable else options["disable"]
        schedule = Schedule.objects.filter(pk=pk).first()
        if schedule is None:
            raise CommandError(
                gettext("No schedule has the id %(id)d: see manage.py schedules --list.")
                % {"id": pk}
            )
        try:
            if enable:
                done = schedules.enable(schedule, reason=options["reason"])
            else:
                done = schedules.disable(schedule, reason=options["reason"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if enable:
            text = (
                gettext("Enabled schedule %(id)d.")
                if done
                else gettext("Schedule %(id)d was enabled already.")
            )
        else:
            text = (
                gettext("Disabled schedule %(id)d.")
                if done
                else gettext("Schedule %(id)d was disabled already.")
            )
        self.stdout.write(text % {"id": pk})

    def _list(self) -> None:
        rows = list(schedules.with_outcomes(Schedule.objects.all()))
        if not rows:
            self.stdout.write(gettext("No schedule."))
            return
        now = timezone.now()
        for row in rows:
            status = schedules.outcome(row, now)
            why = schedules.runnable(row)
            if not row.enabled:
                next_run = gettext("disabled")
            elif why:
                next_run = gettext("not run: %(why)s") % {"why": why}
            else:
                next_run = _time(row.next_run_at)
            self.stdout.write(
                gettext(
                    "%(id)d %(type)s %(expression)s %(zone)s (%(origin)s): next %(next)s, "
                    "last %(last)s, last outcome %(outcome)s"
                )
                % {
                    "id": row.pk,
                    "type": row.trigger_type,
                    "expression": row.expression,
                    "zone": row.time_zone,
                    "origin": gettext("declared") if row.declared else gettext("added"),
                    "next": next_run,
                    "last": _time(row.last_run_at),
                    "outcome": status.label.lower() if status else "-",
                }
            )


def _time(value: Any) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"
