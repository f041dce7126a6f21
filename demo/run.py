#!/usr/bin/env python
"""`make demo`: the demo project on SQLite, with sample triggers, a worker and the admin.

Migrates the demo database (demo.sqlite3), creates the superuser demo / demo,
loads sample triggers in every status (once; --reset loads them afresh), then
runs `manage.py run_triggers` and `manage.py runserver` until Ctrl-C or
SIGTERM, which stops both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USERNAME = PASSWORD = "demo"
STOP_TIMEOUT = 30  # seconds; the worker finishes the trigger in hand first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("DEMO_PORT", "8000")),
        help="Port of the web server on 127.0.0.1 (default: $DEMO_PORT or 8000).",
    )
    parser.add_argument(
        "--reset", action="store_true", help="Replace the triggers with fresh samples."
    )
    args = parser.parse_args(argv)

    prepare_database(reset=args.reset)
    # Children in their own sessions: Ctrl-C reaches only this process, which
    # then stops each child (and the server's autoreloader child) once.
    manage = [sys.executable, str(ROOT / "manage.py")]
    children = {
        "worker": start([*manage, "run_triggers", "--poll-interval", "1"]),
        "server": start([*manage, "runserver", f"127.0.0.1:{args.port}"]),
    }
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    try:
        if wait_for_port(args.port, children):
            base = f"http://127.0.0.1:{args.port}"
            say(
                f"\nThe demo is running: {base}/admin/ (the admin) and {base}/triggers/ "
                f"(the live dashboard), login {USERNAME} / {PASSWORD}. Ctrl-C stops it.\n"
            )
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        ended = [name for name, child in children.items() if child.poll() is not None]
        say(f"The {' and '.join(ended)} stopped; is port {args.port} free? Try --port.")
        return 1
    except KeyboardInterrupt:
        say("\nStopping the worker and the server ...")
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop(children.values())


def prepare_database(*, reset: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    say(f"Migrating {settings.DATABASES['default']['NAME']} ...")
    call_command("migrate", interactive=False, verbosity=0)
    users = get_user_model()._default_manager
    if not users.filter(username=USERNAME).exists():
        users.create_superuser(USERNAME, f"{USERNAME}@example.com", PASSWORD)
        say(f"Created the superuser {USERNAME} / {PASSWORD}.")
    call_command("load_demo_triggers", reset=reset)
    connections.close_all()  # the children open their own


def start(args: list[str], *, quiet: bool = False) -> subprocess.Popen[bytes]:
    """A child in its own session; ``quiet`` drops its output (the server's request log)."""
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(args, cwd=ROOT, start_new_session=True, stdout=output, stderr=output)


def wait_for_port(port: int, children: dict[str, subprocess.Popen[bytes]]) -> bool:
    """Wait until the server accepts connections; False if a child ended first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(children: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child's process group, then SIGKILL whatever outlives STOP_TIMEOUT."""
    running = [child for child in children if child.poll() is None]
    for child in running:
        signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in running:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            signal_group(child, signal.SIGKILL)
            child.wait()


def signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
