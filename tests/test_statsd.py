"""2.x's statsd metrics (djtriggers.statsd): real UDP packets on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from djtriggers import signals
from djtriggers.checks import check_settings
from djtriggers.statsd import parse_address
from djtriggers.worker import TriggerWorker
from tests.factories import due
from tests.testapp.models import FailingTrigger, NoopTrigger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server() -> Iterator[socket.socket]:
    """A statsd server: a UDP socket on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        yield sock


def received(sock: socket.socket, count: int) -> list[str]:
    return [sock.recv(1024).decode() for _ in range(count)]


def test_processed__counted_and_its_delay_timed(server, settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = f"127.0.0.1:{server.getsockname()[1]}"
    settings.DJTRIGGERS_STATSD_PREFIX = "app."
    due(NoopTrigger)
    TriggerWorker(burst=True).run()
    counter, timer = received(server, 2)
    assert counter == "app.triggers.noop.processed:1|c"
    assert timer.startswith("app.triggers.noop.process_delay_seconds:")
    assert timer.endswith("|ms")
    assert int(timer.split(":")[1].removesuffix("|ms")) >= 0


def test_failed_try__counted(server, settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = f"127.0.0.1:{server.getsockname()[1]}"
    due(FailingTrigger)
    TriggerWorker(burst=True).run()
    assert received(server, 1) == ["triggers.failing.failed:1|c"]


def test_no_address__no_receivers_on_the_hot_path(settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = "127.0.0.1:9"
    assert signals.trigger_processed.has_listeners(NoopTrigger)
    settings.DJTRIGGERS_STATSD_ADDRESS = None
    assert not signals.trigger_processed.has_listeners(NoopTrigger)
    assert not signals.trigger_try_failed.has_listeners(NoopTrigger)


def test_a_server_that_is_down__never_fails_the_worker(settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = "127.0.0.1:1"  # nothing listens there
    due(NoopTrigger)
    assert TriggerWorker(burst=True).run().succeeded == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8125", ("127.0.0.1", 8125)),
        ("statsd:1", ("statsd", 1)),
        ("[::1]:8125", ("::1", 8125)),
        ("127.0.0.1", None),
        (":8125", None),
        ("host:0", None),
        ("host:65536", None),
        ("host:\uff18\uff11\uff12\uff15", None),  # fullwidth digits
        ("host:-1", None),
        (8125, None),
    ],
)
def test_parse_address(value, expected):
    assert parse_address(value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJTRIGGERS_STATSD_ADDRESS", "localhost"),
        ("DJTRIGGERS_STATSD_ADDRESS", 8125),
        ("DJTRIGGERS_STATSD_PREFIX", "my app."),
        ("DJTRIGGERS_STATSD_PREFIX", None),
    ],
)
def test_bad_setting__e003(settings, name, value):
    settings.DJTRIGGERS_STATSD_ADDRESS = None
    setattr(settings, name, value)
    [error] = check_settings()
    assert error.id == "djtriggers.E003"
    assert name in error.msg


def test_an_invalid_address__sends_nothing_and_never_fails_the_worker(server, settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = "no port here"  # check E003 reports it at start-up
    due(NoopTrigger)
    assert TriggerWorker(burst=True).run().succeeded == 1
    server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        server.recv(1024)


def test_a_packet_the_network_refuses__never_fails_the_worker(server, settings):
    settings.DJTRIGGERS_STATSD_ADDRESS = f"127.0.0.1:{server.getsockname()[1]}"
    settings.DJTRIGGERS_STATSD_PREFIX = "x" * 70_000  # over UDP's 64 KB: sendto() raises
    due(NoopTrigger)
    assert TriggerWorker(burst=True).run().succeeded == 1
    server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        server.recv(1024)


@pytest.mark.slow
def test_a_real_worker_process__sends_its_metrics(server, workers):
    due(NoopTrigger)
    due(NoopTrigger)
    address = f"127.0.0.1:{server.getsockname()[1]}"
    process = workers.run(command="process_triggers", DJTRIGGERS_TEST_STATSD_ADDRESS=address)
    assert process.wait() == 0
    packets = received(server, 4)
    assert packets.count("triggers.noop.processed:1|c") == 2
    assert sum(p.startswith("triggers.noop.process_delay_seconds:") for p in packets) == 2
