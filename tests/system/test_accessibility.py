"""Our pages in a real browser, audited by axe-core, in the light and the dark scheme.

axe-core comes inside the ``axe-playwright-python`` package (``axe.min.js``):
nothing is downloaded. Every page below must have no serious or critical
violation. Django's own admin pages are the baseline for the admin pages: a
rule that the stock pages (the admin index, the auth User and Group lists, a
group's page, the delete-selected confirmation) violate too, in the same
scheme, is not counted on our admin pages; the test computes that set, it
is not a list kept here. With Django 5.2.19 and axe 4.12 it holds two rules:
``label`` (the date and time boxes of a SplitDateTime field, the user's last
login, have no label of their own; ours, a trigger's process_after, have one)
and ``aria-prohibited-attr`` (the aria-label on the span of the filter
boxes' help icon, on the user's groups and permissions).

The dashboard has no such excuse: its own markup and Django's chrome around it
must pass as they are. And every action can be taken with the keyboard alone:
Tab to a failed trigger's Reprocess, Enter, Enter on the confirmation; the
outcome is announced in a live region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from djtriggers import controls
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt
from tests import factories
from tests.system.browsing import PASSWORD, TIMEOUT_MS, expect, log_in, on_sqlite_only, watch
from tests.testapp.models import FailingTrigger, LaterTrigger, NoopTrigger, PayBill

pytestmark = [pytest.mark.slow, on_sqlite_only]

# The color_scheme the browser context says it prefers: Django's admin follows
# it ("auto", its default theme), and so do our styles.
SCHEMES = ["light", "dark"]
COUNTED = {"serious", "critical"}
CHANGELIST = "/admin/djtriggers/trigger/"


# --- the audit ------------------------------------------------------------------


def audit(page: Any, *, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    results = Axe().run(page, context=context)
    return [v for v in results.response["violations"] if v["impact"] in COUNTED]


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per rule: its id, impact and help, and the elements that break it."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:10]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['failureSummary']}")
        if len(violation["nodes"]) > 10:
            lines.append(f"    … and {len(violation['nodes']) - 10} more")
        lines.append(f"    {violation['helpUrl']}")
    return "\n".join(lines)


# --- the browser and the rows ------------------------------------------------------


@pytest.fixture
def site(live_server, transactional_db, settings) -> Any:
    settings.DJTRIGGERS_DASHBOARD_REFRESH_SECONDS = 3600  # no timed refresh mid-audit
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    return live_server


def open_page(browser: Any, site: Any, scheme: str, next_url: str = "/triggers/") -> Any:
    """Logged in, in ``scheme``; "toggled-dark" is a light system with the admin's theme dark."""
    context = browser.new_context(color_scheme="light" if scheme == "toggled-dark" else scheme)
    if scheme == "toggled-dark":  # what the admin's theme toggle keeps
        context.add_init_script("localStorage.setItem('theme', 'dark')")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = watch(page)
    log_in(page, site, next_url)
    return page


@pytest.fixture
def rows(site) -> dict[str, Trigger]:
    """A trigger in every status, a failure group, a paused type, workers, a concrete type."""
    now = timezone.now()
    admin = User.objects.get(username="admin")
    made: dict[str, Trigger] = {
        "pending": factories.pending(NoopTrigger, source="shop.order$1"),
        "due": factories.due(NoopTrigger),
        "running": factories.running(NoopTrigger, until=now + timedelta(minutes=5)),
        "processed": factories.processed(NoopTrigger),
        "cancelled": factories.cancelled(NoopTrigger),
        "paused": factories.due(LaterTrigger),
        "bill": PayBill.objects.create(amount=3, recipient=admin, source="shop.order$2"),
        # Waiting for a task: the dashboard's panel, the admin's badge and deadline.
        "dispatched": factories.dispatched(NoopTrigger, token="a"),
        "undelivered": factories.dispatched(
            NoopTrigger, token="b", deadline=now - timedelta(minutes=1)
        ),
    }
    for i in (1, 2):  # alike: one failure group of two
        made[f"group{i}"] = factories.failed(
            FailingTrigger, error=f"ValueError: no coffee for trigger {i}"
        )
    failed = made["failed"] = factories.failed(
        FailingTrigger, error="KeyError: 'beans'", date_received=now - timedelta(hours=1)
    )
    TriggerAttempt.objects.create(
        trigger=failed,
        number=1,
        worker="host:123:abc",
        started_at=now - timedelta(minutes=30),
        finished_at=now - timedelta(minutes=30) + timedelta(milliseconds=1500),
        outcome="failure",
        exception_class="KeyError",
        message="'beans'",
        traceback="Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'beans'",
    )
    action = OperatorAction.objects.create(
        kind="reschedule", reason="beans are late", user=admin, changed=1
    )
    action.triggers.add(failed)
    controls.pause(LaterTrigger, reason="the later service is down", user=admin)
    factories.worker("w1", seconds_ago=1)
    factories.worker("w2", seconds_ago=3600, host="old-host", pid=2)
    Group.objects.create(name="operators")
    return made


# --- the pages -------------------------------------------------------------------


def run_action(page: Any, action: str, *triggers: Trigger) -> None:
    """Select ``triggers`` on the changelist and run ``action``: its confirmation page."""
    for trigger in triggers:
        page.locator(f"input[name=_selected_action][value='{trigger.pk}']").check()
    page.locator("select[name=action]").select_option(action)
    page.locator("button[name=index]").click()
    page.wait_for_load_state()


def upload(page: Any, site: Any, content: str) -> None:
    page.goto(f"{site.url}{CHANGELIST}import/")
    page.set_input_files(
        "input[name=import_file]",
        files=[{"name": "triggers.csv", "mimeType": "text/csv", "buffer": content.encode()}],
    )
    page.locator("select[name=format]").select_option(label="csv")
    page.locator("input[type=submit]").first.click()
    page.wait_for_load_state()


def goto(path: str) -> Callable[[Any, Any, dict[str, Trigger]], None]:
    def visit(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
        pks = {name: getattr(row, "pk", row) for name, row in rows.items()}
        page.goto(site.url + path.format(**pks))

    return visit


def cancel_confirmation(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    page.goto(f"{site.url}{CHANGELIST}")
    run_action(page, "cancel_triggers", rows["due"], rows["pending"])
    expect(page.locator("input[type=submit][value^='Yes']")).to_be_visible()


def pause_confirmation(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    page.goto(f"{site.url}{CHANGELIST}")
    run_action(page, "pause_trigger_types", rows["due"], rows["paused"])
    expect(page.get_by_role("button", name="Yes, pause them")).to_be_visible()


def import_preview(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    upload(page, site, "trigger_type,source,status\nnoop,acct$1,\nnoop,acct$2,failed\n")
    expect(page.get_by_role("button", name="Confirm import")).to_be_visible()


def import_problems(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    upload(page, site, "trigger_type,source\nnope,x\nnoop,y\n")
    expect(page.get_by_role("heading", name="Some rows have problems")).to_be_visible()


def import_done(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    import_preview(page, site, rows)
    page.get_by_role("button", name="Confirm import").click()
    expect(page.locator(".messagelist")).to_contain_text("Imported 2 triggers.")


DASHBOARD_PAGES = {
    "dashboard": goto("/triggers/"),
    "dashboard-filtered": goto("/triggers/?status=failed"),
}
ADMIN_PAGES = {
    "list": goto(CHANGELIST),
    "list-failed": goto(CHANGELIST + "?status=failed"),
    "list-paybill": goto(CHANGELIST + "?type=testapp.paybill"),
    "failed-trigger": goto(CHANGELIST + "{failed}/change/"),
    "list-dispatched": goto(CHANGELIST + "?status=dispatched"),
    "dispatched-trigger": goto(CHANGELIST + "{undelivered}/change/"),
    "paybill-trigger": goto("/admin/testapp/paybill/{bill}/change/"),
    "cancel-confirmation": cancel_confirmation,
    "pause-confirmation": pause_confirmation,
    "paused-types": goto("/admin/djtriggers/pausedtype/"),
    "import": goto(CHANGELIST + "import/"),
    "import-preview": import_preview,
    "import-problems": import_problems,
    "import-done": import_done,
    "export": goto(CHANGELIST + "export/"),
    "user-with-triggers": goto("/admin/auth/user/{admin_pk}/change/"),
}


def stock_delete_confirmation(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    page.goto(f"{site.url}/admin/auth/group/")
    page.locator("input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option("delete_selected")
    page.locator("button[name=index]").click()
    expect(page.locator("input[type=submit]")).to_be_visible()


# Django's own pages, as Django ships them.
STOCK_PAGES = {
    "index": goto("/admin/"),
    "user-list": goto("/admin/auth/user/"),
    "group-list": goto("/admin/auth/group/"),
    "group-add": goto("/admin/auth/group/add/"),
    "delete-confirmation": stock_delete_confirmation,
    # UserAdmin's page; our panel of the user's triggers is left out of its audit.
    "user-change": goto("/admin/auth/user/{admin_pk}/change/"),
}
OURS_ON_STOCK_PAGES = [".djt-source-triggers"]


@pytest.fixture(scope="module")
def baselines() -> dict[str, set[str]]:
    """By scheme: the rules Django's own pages violate, filled by the first test that asks."""
    return {}


@pytest.fixture
def excused(browser, site, rows, baselines) -> Callable[[str], set[str]]:
    rows = {**rows, "admin_pk": User.objects.get(username="admin").pk}

    def excused(scheme: str) -> set[str]:
        if scheme not in baselines:
            page = open_page(browser, site, scheme, "/admin/")
            rules: set[str] = set()
            for visit in STOCK_PAGES.values():
                visit(page, site, rows)
                rules |= {v["id"] for v in audit(page, exclude=OURS_ON_STOCK_PAGES)}
            page.context.close()
            baselines[scheme] = rules
        return baselines[scheme]

    return excused


@pytest.fixture
def pages(browser, site) -> Iterator[Callable[..., Any]]:
    opened: list[Any] = []

    def new(scheme: str, next_url: str = "/triggers/") -> Any:
        page = open_page(browser, site, scheme, next_url)
        opened.append(page)
        return page

    yield new
    for page in opened:
        page.context.close()
    assert [problem for page in opened for problem in page.problems] == []


# --- the audits --------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", DASHBOARD_PAGES)
def test_dashboard__no_serious_violation(name, scheme, rows, pages, site):
    page = pages(scheme)
    DASHBOARD_PAGES[name](page, site, rows)
    violations = audit(page)
    assert not violations, f"{name} ({scheme}):\n{describe(violations)}"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin__no_serious_violation_stock_pages_have_not(name, scheme, rows, pages, site, excused):
    rows = {**rows, "admin_pk": User.objects.get(username="admin").pk}
    page = pages(scheme, "/admin/")
    ADMIN_PAGES[name](page, site, rows)
    excuse = excused(scheme)
    violations = [v for v in audit(page) if v["id"] not in excuse]
    assert not violations, f"{name} ({scheme}, excused: {sorted(excuse)}):\n{describe(violations)}"


@pytest.mark.parametrize("name", ["dashboard", "list", "failed-trigger", "cancel-confirmation"])
def test_theme_toggle__dark_on_a_light_system(name, rows, pages, site, excused):
    """Django's theme toggle sets data-theme="dark": our styles follow it too."""
    rows = {**rows, "admin_pk": User.objects.get(username="admin").pk}
    page = pages("toggled-dark", "/admin/")
    {**DASHBOARD_PAGES, **ADMIN_PAGES}[name](page, site, rows)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    excuse = set() if name in DASHBOARD_PAGES else excused("dark")
    violations = [v for v in audit(page) if v["id"] not in excuse]
    assert not violations, f"{name} (dark by the toggle):\n{describe(violations)}"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_dashboard__confirmation_page(scheme, rows, pages, site):
    """The confirmation step without JavaScript: a page of its own."""
    page = pages(scheme)
    cancel = page.locator(f"#djt-trigger-{rows['pending'].pk} form").filter(
        has=page.get_by_role("button", name="Cancel")
    )
    with page.expect_navigation():
        cancel.evaluate("form => form.submit()")  # as a browser without JavaScript posts it
    expect(page.get_by_role("button", name="Yes, cancel it")).to_be_visible()
    violations = audit(page)
    assert not violations, f"dashboard confirmation ({scheme}):\n{describe(violations)}"


# --- the keyboard --------------------------------------------------------------------


def tab_to(page: Any, selector: str, *, limit: int = 300) -> None:
    """Press Tab until the element ``selector`` names has the focus; fail if it never does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} is not reached with Tab ({limit} presses)")


def assert_announced(page: Any, text: str) -> None:
    """``text`` is in the live region that was there before, not in a new one."""
    region = page.locator("#djt-flash")
    expect(region).to_contain_text(text)
    assert page.evaluate("document.getElementById('djt-flash').__before === 1")
    assert region.get_attribute("role") == "status"
    assert region.get_attribute("aria-live") == "polite"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_keyboard__reprocess_a_failed_trigger_on_the_dashboard(scheme, rows, pages):
    failed = rows["failed"]
    page = pages(scheme)
    page.evaluate("document.getElementById('djt-flash').__before = 1")
    tab_to(page, f"#djt-trigger-{failed.pk} button")
    while page.evaluate("document.activeElement.textContent.trim()") != "Reprocess":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    assert_announced(page, f"Trigger {failed.pk}:")
    expect(page.locator(f"#djt-trigger-{failed.pk} .djt-badge")).to_have_text("due")
    failed.refresh_from_db()
    assert failed.state == "scheduled"


def test_keyboard__cancel_with_its_confirmation_on_the_dashboard(rows, pages):
    pending = rows["pending"]
    page = pages("light")
    page.evaluate("document.getElementById('djt-flash').__before = 1")
    tab_to(page, f"#djt-trigger-{pending.pk} button")
    while page.evaluate("document.activeElement.textContent.trim()") != "Cancel":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    # The confirmation takes the focus (its reason); Tab on to its button, Enter.
    expect(page.locator(f"#djt-trigger-{pending.pk} input[name=reason]")).to_be_focused()
    page.keyboard.type("the customer left")
    tab_to(page, f"#djt-trigger-{pending.pk} button", limit=3)
    expect(page.locator(f"#djt-trigger-{pending.pk} button")).to_have_text("Yes, cancel it")
    page.keyboard.press("Enter")

    assert_announced(page, f"Trigger {pending.pk}:")
    pending.refresh_from_db()
    assert pending.state == "cancelled"


def test_keyboard__reprocess_from_the_admin_list_and_confirm(rows, pages, site):
    """The paced reprocess: its confirmation page asks over how long to spread them."""
    failed = rows["failed"]
    page = pages("light", CHANGELIST + "?status=failed")
    tab_to(page, f"input[name=_selected_action][value='{failed.pk}']")
    page.keyboard.press("Space")
    tab_to(page, "select[name=action]")
    page.keyboard.type("Reprocess selected triggers, paced")  # the select's type-ahead
    assert page.locator("select[name=action]").input_value() == "reprocess_triggers_paced"
    tab_to(page, "button[name=index]", limit=3)
    page.keyboard.press("Enter")

    confirm = "input[type=submit][value^='Yes']"
    expect(page.locator(confirm)).to_be_visible()
    tab_to(page, "input[name=spread]")
    page.keyboard.type("10m")
    tab_to(page, confirm)
    page.keyboard.press("Enter")

    expect(page.locator(".messagelist")).to_contain_text("1 reprocessed")
    failed.refresh_from_db()
    assert failed.state == "scheduled"


@pytest.mark.parametrize(
    "name", ["list-paybill", "failed-trigger", "cancel-confirmation", "export"]
)
def test_admin__pages_of_ours_need_no_excuse(name, rows, pages, site):
    """Only Django's own widgets need the baseline: these pages pass every rule as they are."""
    page = pages("light", "/admin/")
    ADMIN_PAGES[name](page, site, rows)
    violations = audit(page)
    assert not violations, f"{name} (light, nothing excused):\n{describe(violations)}"
