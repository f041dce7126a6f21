from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_noop

from djtriggers.registry import trigger_types
from djtriggers.worker import GaveUp, TriggerWorker

from ._options import (
    TriggersCommand,
    add_type_options,
    batch_size,
    show_logs,
    summary,
    trigger_count,
)


class Command(TriggersCommand):
    help = gettext_noop("Process every trigger that is due now, then exit (for cron).")

    def add_arguments(self, parser: Any) -> None:
        add_type_options(parser)
        parser.add_argument(
            "--limit", type=trigger_count, help=gettext("Process at most this many triggers.")
        )
        parser.add_argument(
            "--batch-size", type=batch_size, help=gettext("Triggers claimed at a time.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_types(options["types"] + options["exclude_types"])
        show_logs(options["verbosity"])
        worker = TriggerWorker(
            burst=True,
            types=options["types"],
            exclude_types=options["exclude_types"],
            max_triggers=options["limit"],
            batch_size=options["batch_size"],
        )
        try:
            counts = worker.run()
        except GaveUp as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"]:
            self.stdout.write(gettext("Processed %(summary)s") % {"summary": summary(counts)})


def check_types(names: list[str]) -> None:
    known = trigger_types()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise CommandError(
            gettext("Unknown trigger type(s): %(unknown)s. Known types: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(known)}
        )
