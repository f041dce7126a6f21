from __future__ import annotations

from typing import Any

from django.core.management import CommandError
from django.utils.translation import gettext, gettext_noop, pgettext

from djtriggers import controls
from djtriggers.exceptions import UnknownTriggerType

from ._options import TriggersCommand


class Command(TriggersCommand):
    help = gettext_noop(
        "Pause trigger types: workers stop starting their triggers (those running finish). "
        "Without a type, list the paused types."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "types", nargs="*", metavar="TYPE", help=gettext("A trigger type (its typed).")
        )
        parser.add_argument("--reason", default="", help=gettext("Why, for the audit trail."))
        parser.add_argument(
            "--list", action="store_true", help=gettext("List the paused types (the default).")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["types"]:
            self._list()
            return
        if options["list"]:
            raise CommandError(gettext("Give either types to pause or --list, not both."))
        names = check_types(options["types"])
        try:
            controls._check_reason(options["reason"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for name in names:
            if controls.pause(name, reason=options["reason"]):
                self.stdout.write(gettext("Paused %(type)s.") % {"type": name})
            else:
                self.stdout.write(gettext("%(type)s was paused already.") % {"type": name})

    def _list(self) -> None:
        paused = controls.paused_with_backlog()
        if not paused:
            self.stdout.write(gettext("No type is paused."))
            return
        for item in paused:
            row = item.row
            age = item.oldest_due_age_seconds
            self.stdout.write(
                gettext(
                    "%(type)s paused at %(time)s by %(who)s (%(reason)s): %(due)d due, "
                    "the oldest for %(age)s"
                )
                % {
                    "type": row.trigger_type,
                    "time": f"{row.paused_at:%Y-%m-%d %H:%M:%S}",
                    "who": row.username or gettext("code"),
                    "reason": row.reason or gettext("no reason given"),
                    "due": item.due,
                    "age": "-"
                    if age is None
                    else pgettext("duration: seconds", "%(seconds)ds") % {"seconds": age},
                }
            )


def check_types(names: list[str], *, paused_ok: bool = False) -> list[str]:
    """The types, each known (or, with ``paused_ok``, paused); a CommandError otherwise."""
    paused = controls.paused_types() if paused_ok else frozenset()
    for name in names:
        if name in paused:
            continue
        try:
            controls.type_name(name)
        except UnknownTriggerType as exc:
            raise CommandError(str(exc)) from exc
    return list(dict.fromkeys(names))
