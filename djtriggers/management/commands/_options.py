"""argparse validators and helpers shared by the commands."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from djtriggers.conf import BOUNDS, DAY, YEAR
from djtriggers.times import parse_duration

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from djtriggers.engine import Counts

# The largest --limit / --max-triggers: more than any run processes.
MAX_COUNT = 10**9


class TriggersCommand(BaseCommand):
    """A command whose ``help`` is marked with ``gettext_noop`` and shown translated.

    argparse needs text, not a lazy translation, and the parser is built when
    the command runs, in the language then active.
    """

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.description = gettext(self.help) if self.help else None
        return parser


def summary(counts: Counts) -> str:
    """What a worker did, for people: "5 triggers in 0.12s (40/s): 5 processed, ...".

    ``Counts.summary()`` says the same in English for the logs, which are not translated.
    """
    rate = counts.attempted / counts.seconds if counts.seconds else 0.0
    return ngettext(
        # Translators: what a worker did, "1 trigger in 0.12s (8/s): 1 processed, ...".
        "%(count)d trigger in %(seconds).2fs (%(rate).0f/s): %(processed)d processed, "
        "%(failed)d failed (%(gave_up)d for good), %(rescheduled)d rescheduled",
        "%(count)d triggers in %(seconds).2fs (%(rate).0f/s): %(processed)d processed, "
        "%(failed)d failed (%(gave_up)d for good), %(rescheduled)d rescheduled",
        counts.attempted,
    ) % {
        "count": counts.attempted,
        "seconds": counts.seconds,
        "rate": rate,
        "processed": counts.succeeded,
        "failed": counts.failed,
        "gave_up": counts.gave_up,
        "rescheduled": counts.rescheduled,
    }


def positive_int(maximum: int) -> Callable[[str], int]:
    """A validator of whole numbers from 1 to ``maximum``, written with ASCII digits."""

    def parse(text: str) -> int:
        try:
            # int() also reads other scripts' digits (Arabic-Indic 3): ASCII only.
            value = int(text) if text.isascii() else 0
        except ValueError:
            value = 0
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(
                gettext("%(text)s is not a whole number of at least 1 and at most %(maximum)s.")
                % {"text": repr(text), "maximum": f"{maximum:_}"}
            )
        return value

    return parse


def positive_seconds(maximum: float, span: StrOrPromise) -> Callable[[str], float]:
    """A validator of numbers of seconds above 0 and at most ``maximum`` (no nan or inf)."""

    def parse(text: str) -> float:
        try:
            value = float(text) if text.isascii() else math.nan
        except ValueError:
            value = math.nan
        # nan fails every comparison, so it is refused here too.
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(
                gettext(
                    "%(text)s is not a number of seconds greater than 0 and at most "
                    "%(maximum)s (%(span)s)."
                )
                % {"text": repr(text), "maximum": f"{maximum:_.0f}", "span": span}
            )
        return value

    return parse


batch_size = positive_int(int(BOUNDS["BATCH_SIZE"].high))
trigger_count = positive_int(MAX_COUNT)
poll_interval = positive_seconds(DAY, _("1 day"))
runtime = positive_seconds(YEAR, _("1 year"))


def duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def type_list(text: str) -> list[str]:
    """Comma-separated trigger types; given but empty (an empty $VAR in cron) is an error."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            gettext("%(text)s is empty: name at least one type, or leave the option out.")
            % {"text": repr(text)}
        )
    return names


def add_type_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--types",
        type=type_list,
        default=[],
        help=gettext("Only these trigger types (comma-separated)."),
    )
    parser.add_argument(
        "--exclude-types",
        type=type_list,
        default=[],
        help=gettext("Not these trigger types (comma-separated)."),
    )


def show_logs(verbosity: int) -> None:
    """Print djtriggers' log to stderr when the project has not configured it."""
    logger = logging.getLogger("djtriggers")
    if logger.handlers or logging.getLogger().handlers or verbosity < 1:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


def metrics_address(text: str) -> tuple[str, int]:
    """``PORT`` or ``ADDRESS:PORT`` (as runserver's), where a worker serves its metrics.

    Without an address it listens on all of them (0.0.0.0); port 0 takes a free one.
    """
    address, _, port = text.strip().rpartition(":")
    # isascii(): int() also reads other scripts' digits.
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise argparse.ArgumentTypeError(
            gettext(
                "%(text)s is not [ADDRESS:]PORT: the port is a whole number from 0 to 65535 "
                "(0: any free port)."
            )
            % {"text": repr(text[:120])}
        )
    return address.strip("[]") or "0.0.0.0", int(port)


def worker_name(text: str) -> str:
    """A worker name fits the claim's ``locked_by`` column (100 characters)."""
    name = text.strip()
    if not name or len(name) > 100:
        raise argparse.ArgumentTypeError(
            gettext("%(text)s is not a worker name: use 1 to 100 characters.")
            % {"text": repr(text[:120])}
        )
    return name
