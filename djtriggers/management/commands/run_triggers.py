from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError
from django.utils.translation import gettext, gettext_noop

from djtriggers import prometheus
from djtriggers.worker import TriggerWorker

from ._options import (
    TriggersCommand,
    add_type_options,
    batch_size,
    metrics_address,
    poll_interval,
    runtime,
    show_logs,
    summary,
    trigger_count,
    worker_name,
)
from .process_triggers import check_types


class Command(TriggersCommand):
    help = gettext_noop(
        "Run the trigger worker: process triggers as they become due until stopped. "
        "SIGTERM or SIGINT finishes the trigger in hand and exits."
    )

    def add_arguments(self, parser: Any) -> None:
        add_type_options(parser)
        parser.add_argument(
            "--batch-size", type=batch_size, help=gettext("Triggers claimed at a time.")
        )
        parser.add_argument(
            "--poll-interval",
            type=poll_interval,
            help=gettext(
                "Longest sleep in seconds when nothing is due "
                "(default: DJTRIGGERS_POLL_INTERVAL_SECONDS)."
            ),
        )
        parser.add_argument(
            "--max-runtime", type=runtime, help=gettext("Exit after this many seconds.")
        )
        parser.add_argument(
            "--max-triggers",
            type=trigger_count,
            help=gettext("Exit after processing this many triggers."),
        )
        parser.add_argument(
            "--name", type=worker_name, help=gettext("Worker name (default host:pid:random).")
        )
        parser.add_argument(
            "--metrics-port",
            type=metrics_address,
            metavar="[ADDRESS:]PORT",
            help=gettext(
                "Serve this worker's Prometheus metrics over HTTP on this port, on every "
                "address unless one is given (0: any free port, logged). Needs "
                "DJTRIGGERS_PROMETHEUS."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_types(options["types"] + options["exclude_types"])
        show_logs(options["verbosity"])
        worker = TriggerWorker(
            types=options["types"],
            exclude_types=options["exclude_types"],
            batch_size=options["batch_size"],
            poll_interval=options["poll_interval"],
            max_runtime=options["max_runtime"],
            max_triggers=options["max_triggers"],
            name=options["name"],
        )
        with contextlib.ExitStack() as stack:
            if options["metrics_port"] is not None:
                serve_metrics(stack, *options["metrics_port"])
            counts = worker.run()
        if options["verbosity"]:
            self.stdout.write(
                gettext("Worker %(name)s processed %(summary)s")
                % {"name": worker.name, "summary": summary(counts)}
            )


def serve_metrics(stack: contextlib.ExitStack, address: str, port: int) -> None:
    """Serve the worker's metrics until ``stack`` closes (``--metrics-port``)."""
    try:
        stack.enter_context(prometheus.serving(address, port))
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from None  # says what to set, as the checks do
    except OSError as exc:
        raise CommandError(
            gettext(
                "Cannot serve metrics on %(address)s:%(port)s: %(error)s. Choose another "
                "--metrics-port, or stop what listens there."
            )
            % {"address": address, "port": port, "error": exc}
        ) from None
