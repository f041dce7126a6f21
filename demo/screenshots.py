#!/usr/bin/env python
"""`make screenshots`: the README's pictures of the dashboard and the admin, from the demo data.

Loads the demo's sample triggers (as `make demo` does) into a throwaway SQLite
database, so demo.sqlite3 is left alone and every run starts from the same
data; an operator retries one failed bill, which fails again, so its timeline
shows tries, tracebacks and an operator's action. No worker runs: the pictures
show every status as loaded. Then it serves the demo on 127.0.0.1, logs in as
demo / demo in Debian's Chromium (/usr/bin/chromium) and saves four compressed
PNGs (a 256-colour palette) to demo/screenshots/, each under 300 KB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import run  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
WIDE = {"width": 1600, "height": 800}  # the admin list: every column, the last error too
MAX_BYTES = 300 * 1024
TIMEOUT_MS = 15_000
MAX_HEIGHT = 1600  # px: the longest picture
MARGIN = 16  # px around a cut
RETRY_REASON = "The landlord says the account is topped up."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "demo" / "screenshots",
        help="Folder for the pictures (default: demo/screenshots).",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="Port on 127.0.0.1 (default: a free one)."
    )
    args = parser.parse_args(argv)

    problem = browser_problem()
    if problem:
        run.say(problem)
        return 1
    port = args.port or free_port()
    if not port_free(port):  # or the pictures would be of whatever serves it
        run.say(f"Port {port} is taken: try another --port, or leave it out.")
        return 1
    signal.signal(signal.SIGTERM, run.interrupt)  # the finally below stops the server
    with tempfile.TemporaryDirectory(prefix="djtriggers-screenshots-") as folder:
        os.environ["DEMO_DATABASE"] = str(Path(folder) / "demo.sqlite3")
        run.prepare_database(reset=True)
        bill = retry_a_failed_bill()
        manage = [sys.executable, str(ROOT / "manage.py")]
        server = run.start([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], quiet=True)
        try:
            if not run.wait_for_port(port, {"server": server}):
                run.say(f"The server did not start; is port {port} free? Try --port.")
                return 1
            pictures = take(f"http://127.0.0.1:{port}", bill)
        finally:
            run.stop([server])
    return save(pictures, args.out)


def browser_problem() -> str:
    """Why the pictures cannot be taken here, or "" if they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "The playwright package is missing: run `make venv` first."
    try:
        import PIL  # noqa: F401
    except ImportError:
        return "Pillow is missing: run `make venv` first."
    if not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is missing: apt-get install chromium (playwright install cannot)."
    return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as runserver: TIME_WAIT is free
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def retry_a_failed_bill() -> int:
    """An operator reprocesses a failed bill and it fails again; returns its id."""
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.db.models import Value
    from django.db.models.functions import Replace

    from demo.triggers_demo.management.commands.load_demo_triggers import quiet
    from demo.triggers_demo.models import PayBill
    from djtriggers import actions
    from djtriggers.exceptions import ProcessError
    from djtriggers.models import State, TriggerAttempt

    operator = get_user_model()._default_manager.get(username=run.USERNAME)
    bill = PayBill.objects.failed().get(amount=2500)
    actions.perform(
        "reprocess", PayBill.objects.filter(pk=bill.pk), user=operator, reason=RETRY_REASON
    )
    bill.refresh_from_db()
    with quiet("djtriggers"):
        while bill.state != State.FAILED:
            with contextlib.suppress(ProcessError):
                bill.process(force=True)  # force: skip the retry delay
    # Paths from the checkout's root, so any clone takes the same pictures.
    TriggerAttempt.objects.update(
        traceback=Replace("traceback", Value(f"{ROOT}{os.sep}"), Value(""))
    )
    connections.close_all()  # the server opens its own
    return bill.pk


def take(base: str, bill: int) -> dict[str, bytes]:
    """The four pictures, as Chromium's PNGs."""
    from playwright.sync_api import sync_playwright

    pictures = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for scheme in ("light", "dark"):
                page = logged_in(browser, base, "/triggers/", scheme)
                # Down to the throughput chart: tiles, paused banner, due board, lag.
                pictures[f"dashboard-{scheme}"] = cut(page, to=bottom(page, ".djt-chart-numbers"))
            failed = "/admin/djtriggers/trigger/?status=failed"
            page = logged_in(browser, base, failed, "light", viewport=WIDE)
            pictures["admin-failed"] = cut(page, to=WIDE["height"])
            page = logged_in(browser, base, f"/admin/djtriggers/trigger/{bill}/change/", "light")
            pictures["trigger-timeline"] = timeline(page)
        finally:
            browser.close()
    return pictures


def logged_in(
    browser: Any, base: str, url: str, scheme: str, *, viewport: dict[str, int] = VIEWPORT
) -> Any:
    """A page of a new context in the colour scheme, logged in through the admin's form."""
    context = browser.new_context(
        viewport=viewport, device_scale_factor=1, color_scheme=scheme, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    # The admin's navigation sidebar closed, as its toggle leaves it: room for the columns.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next={url}")
    page.get_by_label("Username").fill(run.USERNAME)
    page.get_by_label("Password").fill(run.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{url}")
    page.wait_for_load_state("networkidle")
    return page


def bottom(page: Any, selector: str) -> int:
    """Where the first element matching ``selector`` ends, a margin below; MAX_HEIGHT if none."""
    end = edge(page, selector, "bottom")
    return MAX_HEIGHT if end is None else end + MARGIN


def edge(page: Any, selector: str, side: str) -> int | None:
    """The page's y of the first matching element's ``side`` ("top" or "bottom")."""
    at = page.evaluate(
        "([selector, side]) => { const el = document.querySelector(selector);"
        " return el ? el.getBoundingClientRect()[side] + window.scrollY : null; }",
        [selector, side],
    )
    return None if at is None else int(at)


def cut(page: Any, *, to: int, start: int = 0) -> bytes:
    """The page from ``start`` down to ``to`` (at most MAX_HEIGHT pixels, at most the page)."""
    full = page.evaluate("document.documentElement.scrollHeight")
    height = min(to, full, start + MAX_HEIGHT) - start
    clip = {"x": 0, "y": start, "width": page.viewport_size["width"], "height": height}
    picture: bytes = page.screenshot(full_page=True, clip=clip, animations="disabled")
    return picture


def timeline(page: Any) -> bytes:
    """The trigger's header (status, buttons) over its timeline, the last traceback open.

    The form's fields between them are left out: they are the admin's own.
    """
    from PIL import Image

    page.locator(".djt-timeline details").last.evaluate("details => details.open = true")
    title = max(bottom(page, "#content .object-tools"), bottom(page, "#content > h2"))
    header = cut(page, to=title)
    start = max((edge(page, ".djt-timeline", "top") or 0) - MARGIN, 0)
    events = cut(page, start=start, to=bottom(page, ".djt-timeline"))
    with Image.open(io.BytesIO(header)) as top, Image.open(io.BytesIO(events)) as rest:
        both = Image.new("RGB", (top.width, top.height + rest.height), "white")
        both.paste(top, (0, 0))
        both.paste(rest, (0, top.height))
        out = io.BytesIO()
        both.save(out, format="PNG")
    return out.getvalue()


def save(pictures: dict[str, bytes], out: Path) -> int:
    """Write each as a palette PNG; 1 if one is over MAX_BYTES."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    too_big = []
    for name, png in pictures.items():
        path = out / f"{name}.png"
        with Image.open(io.BytesIO(png)) as image:
            # Flat colours and text: 256 colours without dithering look the same, at a third.
            small = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
            small.save(path, optimize=True)
            width, height = image.size
        size = path.stat().st_size
        run.say(f"{path}: {width}x{height}, {size / 1024:.0f} KB")
        if size > MAX_BYTES:
            too_big.append(path.name)
    if too_big:
        run.say(
            f"Over {MAX_BYTES // 1024} KB: {', '.join(too_big)}. Lower DASHBOARD_HEIGHT or "
            "TIMELINE_HEIGHT in demo/screenshots.py, or show less of the page."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
