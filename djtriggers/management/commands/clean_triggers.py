from __future__ import annotations

import sys
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from djtriggers.cleaning import DEFAULT_AGE, clean
from djtriggers.lifecycle import FINAL

from ._options import TriggersCommand, batch_size, duration


class Command(TriggersCommand):
    help = gettext_noop(
        "Delete finished triggers (processed, failed, cancelled) older than a given age."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--older-than",
            type=duration,
            default=DEFAULT_AGE,
            help=gettext("Age of the finish date, e.g. 60d, 12h, 2w (default 60d)."),
        )
        parser.add_argument(
            "--status",
            action="append",
            choices=[str(state) for state in FINAL],
            help=gettext(
                "Only triggers with this status; repeat for several (default: all three)."
            ),
        )
        parser.add_argument("--batch-size", type=batch_size, default=1000)
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext("Only count what would go.")
        )

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
            values = {
                "count": count,
                "states": "/".join(states),
                "time": f"{cutoff:%Y-%m-%d %H:%M}",
            }
            if options["dry_run"]:
                text = ngettext(
                    # Translators: the states are those of --status, as typed.
                    "Would delete %(count)d %(states)s trigger finished before %(time)s.",
                    "Would delete %(count)d %(states)s triggers finished before %(time)s.",
                    count,
                )
            else:
                text = ngettext(
                    # Translators: the states are those of --status, as typed.
                    "Deleted %(count)d %(states)s trigger finished before %(time)s.",
                    "Deleted %(count)d %(states)s triggers finished before %(time)s.",
                    count,
                )
            self.stdout.write(text % values)

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
