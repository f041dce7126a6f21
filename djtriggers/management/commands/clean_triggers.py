from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from djtriggers.cleaning import DEFAULT_AGE, clean
from djtriggers.lifecycle import FINAL

from ._options import batch_size, duration


class Command(BaseCommand):
    help = "Delete finished triggers (processed, failed, cancelled) older than a given age."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--older-than",
            type=duration,
            default=DEFAULT_AGE,
            help="Age of the finish date, e.g. 60d, 12h, 2w (default 60d).",
        )
        parser.add_argument(
            "--status",
            action="append",
            choices=[str(state) for state in FINAL],
            help="Only triggers with this status; repeat for several (default: all three).",
        )
        parser.add_argument("--batch-size", type=batch_size, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="Only count what would go.")

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - options["older_than"]
        states = options["status"] or list(FINAL)
        show_progress = options["verbosity"] and sys.stderr.isatty() and not options["dry_run"]
        count = clean(
            older_than=cutoff,
            states=states,
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            progress=self._progress if show_progress else None,
        )
        if show_progress:
            sys.stderr.write("\n")
        if options["verbosity"]:
            verb = "Would delete" if options["dry_run"] else "Deleted"
            self.stdout.write(
                f"{verb} {count} {'/'.join(states)} triggers "
                f"finished before {cutoff:%Y-%m-%d %H:%M}."
            )

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
