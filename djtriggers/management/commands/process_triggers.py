from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from djtriggers.registry import trigger_types
from djtriggers.worker import GaveUp, TriggerWorker

from ._options import add_type_options, batch_size, show_logs, trigger_count


class Command(BaseCommand):
    help = "Process every trigger that is due now, then exit (for cron)."

    def add_arguments(self, parser: Any) -> None:
        add_type_options(parser)
        parser.add_argument(
            "--limit", type=trigger_count, help="Process at most this many triggers."
        )
        parser.add_argument("--batch-size", type=batch_size, help="Triggers claimed at a time.")

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
            self.stdout.write(f"Processed {counts.summary()}")


def check_types(names: list[str]) -> None:
    known = trigger_types()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise CommandError(
            f"Unknown trigger type(s): {', '.join(unknown)}. Known types: {', '.join(known)}."
        )
