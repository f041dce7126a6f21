"""argparse validators and helpers shared by the commands."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta

from djtriggers.durations import parse_duration


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds greater than 0")
    return value


def duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def type_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_type_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--types", type=type_list, default=[], help="Only these trigger types (comma-separated)."
    )
    parser.add_argument(
        "--exclude-types",
        type=type_list,
        default=[],
        help="Not these trigger types (comma-separated).",
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
