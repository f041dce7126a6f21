from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop

from djtriggers import controls

from ._options import TriggersCommand
from .pause_triggers import check_types


class Command(TriggersCommand):
    help = gettext_noop("Resume paused trigger types: workers start their triggers again.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "types", nargs="+", metavar="TYPE", help=gettext("A paused trigger type.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in check_types(options["types"], paused_ok=True):
            if controls.resume(name):
                self.stdout.write(gettext("Resumed %(type)s.") % {"type": name})
            else:
                self.stdout.write(gettext("%(type)s was not paused.") % {"type": name})
