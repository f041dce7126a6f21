"""2.x's statsd metrics, for dashboards built on them: ``DJTRIGGERS_STATSD_ADDRESS``.

2.x's ``process(use_statsd=True)`` counted ``triggers.<type>.processed`` and
``triggers.<type>.failed`` and timed ``triggers.<type>.process_delay_seconds``;
these are the same names (after ``DJTRIGGERS_STATSD_PREFIX``), sent by every
worker as plain statsd UDP packets, fire and forget: no statsd client package,
and a statsd server that is down never slows or fails a worker. The receivers
are connected only while the setting is set, so the hot path pays nothing
otherwise.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

from django.core.signals import setting_changed

from . import signals
from .conf import settings


def parse_address(value: object) -> tuple[str, int] | None:
    """``"host:port"`` as (host, port); None if it is not one."""
    if not isinstance(value, str) or ":" not in value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def send(metric: str) -> None:
    address = parse_address(settings.STATSD_ADDRESS)
    if address is None:
        return
    packet = f"{settings.STATSD_PREFIX}{metric}".encode()
    try:
        with socket.socket(
            socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM
        ) as sock:
            sock.sendto(packet, address)
    except OSError:
        pass  # fire and forget: metrics never fail a worker


def _name(trigger: Any) -> str:
    # statsd's separators (. : |) and spaces cannot appear inside a name's part.
    typed = str(trigger.trigger_type or "unknown")
    return "".join("_" if c in ".:|@# \n" else c for c in typed)


def _processed(sender: Any, trigger: Any, start_delay: timedelta, **kwargs: Any) -> None:
    name = _name(trigger)
    send(f"triggers.{name}.processed:1|c")
    send(f"triggers.{name}.process_delay_seconds:{start_delay.total_seconds() * 1000:.0f}|ms")


def _failed(sender: Any, trigger: Any, **kwargs: Any) -> None:
    send(f"triggers.{_name(trigger)}.failed:1|c")


def connect(**kwargs: Any) -> None:
    """Listen to the signals while DJTRIGGERS_STATSD_ADDRESS is set (and only then)."""
    setting = kwargs.get("setting")
    if setting is not None and not setting.startswith("DJTRIGGERS_STATSD"):
        return
    if settings.STATSD_ADDRESS:
        signals.trigger_processed.connect(_processed, dispatch_uid="djtriggers.statsd")
        signals.trigger_try_failed.connect(_failed, dispatch_uid="djtriggers.statsd")
    else:
        signals.trigger_processed.disconnect(dispatch_uid="djtriggers.statsd")
        signals.trigger_try_failed.disconnect(dispatch_uid="djtriggers.statsd")


setting_changed.connect(connect, dispatch_uid="djtriggers.statsd")
