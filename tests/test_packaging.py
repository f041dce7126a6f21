"""How the package ships: each template and static file once, under the app that uses it.

In a checkout the apps read the top-level ``templates/`` and ``static/`` (DIRS
and STATICFILES_DIRS in tests/settings.py); the wheel and an editable install
carry them inside the apps (``[tool.setuptools.package-dir]``). The core
installs and runs with Django (and cronsim, for schedules) alone.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import BaseCommand, load_command_class
from django.template.loader import get_template

from dashboard.conf import DashboardSettings
from djtriggers import checks
from djtriggers.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "dashboard/index.html"
STATIC = "dashboard/dashboard.css"
TEMPLATES = sorted(
    p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.html")
)
STATICS = sorted(
    p.relative_to(ROOT / "static").as_posix() for p in (ROOT / "static").rglob("*") if p.is_file()
)

# Runs in a venv outside the checkout where the package is installed (a wheel
# or an editable install): finds every template and static file, and runs
# collectstatic for a project using both apps.
SCRIPT = """
import io, json, sys

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="installed-test",
    USE_TZ=True,
    ROOT_URLCONF="installed_urls",
    STATIC_URL="/static/",
    STATIC_ROOT=sys.argv[1],
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "django_htmx",
        "template_partials",
        "django_filters",
        "import_export",
        "djtriggers",
        "dashboard",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
        }
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()

import dashboard
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.template.loader import get_template

out, err = io.StringIO(), io.StringIO()
call_command("collectstatic", interactive=False, verbosity=1, stdout=out, stderr=err)
partial = get_template("dashboard/index.html#group_message")
print(json.dumps({
    "package": dashboard.__file__,
    "templates": {name: get_template(name).origin.name for name in %(templates)r},
    "statics": {name: finders.find(name, find_all=True) for name in %(statics)r},
    "html": partial.render({"message": "rendered from the installed package"}),
    "collectstatic": out.getvalue() + err.getvalue(),
}))
"""

URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("triggers/", include("dashboard.urls"))]
"""

ADMIN_URLS = """
from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
"""

# A worker-only service: Django alone, "djtriggers" and one app of triggers.
WORKER_SETTINGS = """
SECRET_KEY = "core-test"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
INSTALLED_APPS = ["djtriggers", "hello"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "core.sqlite3"}}
DJTRIGGERS_POLL_INTERVAL_SECONDS = 0.1
"""
# The same service, later given Django's admin (which then has no export and import).
ADMIN_SETTINGS = """
from worker_settings import *

ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "djtriggers",
    "hello",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "core_urls"
"""
CORE_MODELS = """
from pathlib import Path

from djtriggers.models import Trigger


class Hello(Trigger):
    typed = "hello"

    class Meta:
        proxy = True

    def _process(self, dictionary):
        Path("hello.txt").write_text(f"hello from trigger {self.pk}")
"""
UI_MODULES = """
ui = (
    "import_export", "tablib", "openpyxl",
    "django_filters", "django_htmx", "template_partials", "dashboard",
)
imported = sorted(m for m in sys.modules if m.split(".")[0] in ui)
"""
WORKER_SCRIPT = (
    """
import json, sys

import django

django.setup()
from django.core.management import call_command

from hello.models import Hello

call_command("check", fail_level="WARNING")
call_command("makemigrations", "hello", verbosity=0)
call_command("migrate", verbosity=0)
trigger = Hello.objects.create()
call_command("run_triggers", max_triggers=1, verbosity=0)
trigger.refresh_from_db()
# Reading a file of triggers into triggers needs Django alone too.
from djtriggers import imports, rows

table = imports.read_table(["trigger_type"], [["hello"]])
problems = rows.RowReader(trigger.date_received).read({"trigger_type": table[0][0]})[2]
"""
    + UI_MODULES
    + """print(json.dumps({"status": trigger.status, "problems": problems, "imported": imported}))
"""
)
ADMIN_SCRIPT = (
    """
import json, sys

import django

django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

call_command("check", fail_level="WARNING")
call_command("migrate", verbosity=0)
client = Client()
client.force_login(User.objects.create_superuser("op", "op@example.com", "pw"))
page = client.get("/admin/djtriggers/trigger/")
html = page.content.decode()
"""
    + UI_MODULES
    + """print(json.dumps({"admin": [page.status_code, "hello" in html, "export" in html],
                  "imported": imported}))
"""
)

only_once = pytest.mark.skipif(
    os.environ.get("DJTRIGGERS_TEST_DB", "sqlite") != "sqlite",
    reason="database independent: runs on the SQLite run only",
)


def test_checkout__has_no_symlinks():
    listed = run(["git", "ls-files", "-s"], cwd=ROOT)
    assert [line for line in listed.splitlines() if line.startswith("120000")] == []


def test_checkout__apps_find_the_top_level_templates_and_static():
    template = Path(get_template(TEMPLATE).origin.name)
    assert template.resolve() == (ROOT / "templates" / TEMPLATE).resolve()
    assert Path(finders.find(STATIC)).resolve() == (ROOT / "static" / STATIC).resolve()


# The README is the package's long description: it must document what the code has.
README = (ROOT / "README.md").read_text()
ALL_DEFAULTS = DEFAULTS | {name: s.default for name, s in DashboardSettings.declared().items()}


def test_readme__documents_every_setting_with_its_default():
    documented = set(re.findall(r"^\| `DJTRIGGERS_(\w+)` \|", README, re.MULTILINE))
    assert documented == set(ALL_DEFAULTS)
    for name, default in ALL_DEFAULTS.items():
        row = re.search(rf"^\| `DJTRIGGERS_{name}` \| (.*)$", README, re.MULTILINE)[1]
        if isinstance(default, tuple):
            assert all(path.rpartition(".")[2] in row for path in default), name
        else:
            assert row.startswith(f"`{default!r}` |"), name


def test_readme__documents_every_system_check():
    sources = [Path(checks.__file__), ROOT / "dashboard" / "checks.py"]
    ids = {i for path in sources for i in re.findall(r"djtriggers\.E\d{3}", path.read_text())}
    assert ids
    assert ids == set(re.findall(r"djtriggers\.E\d{3}", README))


@pytest.mark.parametrize("command", ["run_triggers", "process_triggers", "clean_triggers"])
def test_readme__documents_every_command_option(command):
    parser = load_command_class("djtriggers", command).create_parser("manage.py", command)
    base = BaseCommand().create_parser("manage.py", "base")
    common = {option for action in base._actions for option in action.option_strings}
    options = {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option not in common
    }
    assert f"manage.py {command}" in README
    assert {option for option in options if f"`{option}" not in README} == set()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
@only_once
def test_wheel__ships_each_template_and_static_file_once_under_its_app(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, files in (("templates", TEMPLATES), ("static", STATICS)):
        for name in files:
            app = name.split("/")[0]
            assert f"{app}/{folder}/{name}" in names
    shipped = {n for n in names if "/templates/" in n or "/static/" in n}
    assert len(shipped) == len(TEMPLATES) + len(STATICS)
    # Every module in git is in the wheel (the package list in pyproject.toml is explicit).
    listed = run(["git", "ls-files", "djtriggers", "dashboard"], cwd=ROOT).split()
    assert {n for n in listed if n.endswith(".py")} <= names
    # Users' type checkers see our annotations.
    assert {"djtriggers/py.typed", "dashboard/py.typed"} <= names
    # The translations of both apps, compiled, in one catalogue.
    catalogue = "djtriggers/locale/nl/LC_MESSAGES/django"
    assert {f"{catalogue}.po", f"{catalogue}.mo"} <= names


@pytest.mark.slow
@only_once
def test_wheel__installed_finds_every_template_and_static_file(wheel, tmp_path):
    python = venv_sharing_dev_packages(tmp_path / "venv")
    pip_install(python, "--no-deps", str(wheel))
    check_installed(python, tmp_path / "venv", tmp_path)


@pytest.mark.slow
@only_once
def test_editable_install__finds_every_template_and_static_file(tmp_path):
    src = copy_checkout(tmp_path / "src")
    python = venv_sharing_dev_packages(tmp_path / "venv")
    pip_install(python, "--no-deps", "-e", str(src), "--config-settings", "editable_mode=strict")
    check_installed(python, src, tmp_path)


@pytest.mark.slow
@only_once
def test_core__installs_and_runs_a_trigger_with_django_alone(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    pip_install(python, "-c", str(constraints(tmp_path)), str(wheel))
    installed = run([*PIP, "--python", python, "list", "--format=freeze"], cwd=tmp_path)
    packages = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert packages <= {"django", "django-triggers", "asgiref", "sqlparse", "tzdata", "cronsim"}

    project = tmp_path / "project"
    (project / "hello").mkdir(parents=True)
    (project / "worker_settings.py").write_text(WORKER_SETTINGS)
    (project / "admin_settings.py").write_text(ADMIN_SETTINGS)
    (project / "core_urls.py").write_text(ADMIN_URLS)
    (project / "hello" / "__init__.py").write_text("")
    (project / "hello" / "models.py").write_text(CORE_MODELS)

    def run_with(settings: str, script: str) -> object:
        env = clean_env() | {"DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(project)}
        return json.loads(run([python, "-c", script], cwd=project, env=env).splitlines()[-1])

    # Only "djtriggers" (and the app of triggers) installed: no check error, migrate, run,
    # read the rows of a file of triggers.
    worker = run_with("worker_settings", WORKER_SCRIPT)
    assert worker == {"status": "processed", "problems": [], "imported": []}
    assert (project / "hello.txt").read_text().startswith("hello from trigger")
    # Django's admin added later: it lists the trigger, without export and import.
    assert run_with("admin_settings", ADMIN_SCRIPT) == {"admin": [200, True, False], "imported": []}


def check_installed(python: str, location: Path, tmp_path: Path) -> None:
    """Every template and static file is found inside ``location``, and collectstatic
    warns of no duplicate."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "installed_urls.py").write_text(URLS)
    script = SCRIPT % {"templates": TEMPLATES, "statics": STATICS}
    out = run([python, "-c", script, str(tmp_path / "collected")], cwd=run_dir, env=clean_env())
    found = json.loads(out.splitlines()[-1])

    assert found["package"].startswith(str(location))
    for name, origin in found["templates"].items():
        app = name.split("/")[0]
        assert origin.startswith(str(location)), name
        assert f"/{app}/templates/{name}" in origin, name
    for name, places in found["statics"].items():
        assert len(places) == 1, (name, places)  # found once, so collected once
        assert f"/{name.split('/')[0]}/static/{name}" in places[0], name
    assert "rendered from the installed package" in found["html"]
    assert "Found another file" not in found["collectstatic"]
    for name in STATICS:
        assert (tmp_path / "collected" / name).is_file()


def copy_checkout(src: Path) -> Path:
    """A copy of the files git would commit, so stray build/ output cannot leak in."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, src / name
        if not source.exists():
            continue  # deleted in the work tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return src


def build_wheel(tmp_path: Path) -> Path:
    src = copy_checkout(tmp_path / "src")
    dist = tmp_path / "dist"
    # Isolated: the build requirements in pyproject.toml come from the pip cache or PyPI.
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], cwd=tmp_path)
    (wheel,) = dist.glob("*.whl")
    return wheel


PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def pip_install(python: str, *args: str) -> None:
    run([*PIP, "--python", python, "install", "--quiet", *args], cwd=Path(python).parent)


def venv_sharing_dev_packages(venv: Path) -> str:
    """A venv that sees the dev venv's packages (a path in a .pth file, so not the
    dev venv's own .pth hooks such as its editable djtriggers), and installs nothing
    but ours: much cheaper than installing every dependency again."""
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    python = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ours = run([python, "-c", purelib], cwd=venv.parent).strip()
    dev = run([sys.executable, "-c", purelib], cwd=venv.parent).strip()
    (Path(ours) / "dev_packages.pth").write_text(dev + "\n")
    return python


def constraints(tmp_path: Path) -> Path:
    """The dev venv's versions of the dependencies, so the pip cache answers."""
    frozen = run([*PIP, "freeze", "--exclude-editable"], cwd=tmp_path)
    path = tmp_path / "constraints.txt"
    path.write_text("\n".join(line for line in frozen.splitlines() if "==" in line))
    return path


def clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args[:4]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
