"""The top-level templates/ and static/ folders reach the apps, in a checkout and in the wheel.

``dashboard/templates`` and ``dashboard/static`` are symlinks to them; the
wheel gets copies through ``[tool.setuptools.package-data]``.
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

from djtriggers import checks
from djtriggers.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "dashboard/index.html"
STATIC = "dashboard/dashboard.css"

# Runs in the clean venv, outside the checkout, with only the wheel and its
# dependencies installed.
SCRIPT = """
import json

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="wheel-test",
    USE_TZ=True,
    ROOT_URLCONF="wheel_urls",
    STATIC_URL="/static/",
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
from django.core.management import BaseCommand, load_command_class
from django.template.loader import get_template

from djtriggers import checks
from djtriggers.conf import DEFAULTS

template = get_template(%(template)r)
partial = get_template(%(template)r + "#group_message")
print(json.dumps({
    "package": dashboard.__file__,
    "template": template.origin.name,
    "html": partial.render({"message": "rendered from the wheel"}),
    "static": finders.find(%(static)r),
}))
"""

URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("triggers/", include("dashboard.urls"))]
"""

only_once = pytest.mark.skipif(
    os.environ.get("DJTRIGGERS_TEST_DB", "sqlite") != "sqlite",
    reason="database independent: runs on the SQLite run only",
)


def test_checkout__apps_find_the_top_level_templates_and_static():
    template = Path(get_template(TEMPLATE).origin.name)
    assert template.resolve() == (ROOT / "templates" / TEMPLATE).resolve()
    assert Path(finders.find(STATIC)).resolve() == (ROOT / "static" / STATIC).resolve()


# The README is the package's long description: it must document what the code has.
README = (ROOT / "README.md").read_text()


def test_readme__documents_every_setting_with_its_default():
    documented = set(re.findall(r"^\| `DJTRIGGERS_(\w+)` \|", README, re.MULTILINE))
    assert documented == set(DEFAULTS)
    for name, default in DEFAULTS.items():
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


@pytest.mark.slow
@only_once
def test_wheel__ships_templates_and_static_where_the_apps_find_them(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                assert f"dashboard/{path.relative_to(ROOT).as_posix()}" in names
    # Users' type checkers see our annotations.
    assert {"djtriggers/py.typed", "dashboard/py.typed"} <= names

    python = install_in_clean_venv(wheel, tmp_path / "venv")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "wheel_urls.py").write_text(URLS)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    out = run(
        [python, "-c", SCRIPT % {"template": TEMPLATE, "static": STATIC}], cwd=run_dir, env=env
    )
    found = json.loads(out.splitlines()[-1])

    site_packages = str(tmp_path / "venv")
    assert found["package"].startswith(site_packages)
    assert found["template"].startswith(site_packages)
    assert "rendered from the wheel" in found["html"]
    assert found["static"].startswith(site_packages)


def build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the files git would commit, so stray build/ output cannot leak in."""
    src = tmp_path / "src"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, src / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the work tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    dist = tmp_path / "dist"
    # Isolated: the build requirements in pyproject.toml come from the pip cache or PyPI.
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], cwd=tmp_path)
    (wheel,) = dist.glob("*.whl")
    return wheel


def install_in_clean_venv(wheel: Path, venv: Path) -> str:
    """A venv without the dev packages, holding the wheel and its dependencies."""
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    python = str(venv / "bin" / "python")
    # The dev venv's versions of the dependencies, so the pip cache answers.
    frozen = run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], cwd=venv.parent)
    constraints = venv.parent / "constraints.txt"
    constraints.write_text("\n".join(line for line in frozen.splitlines() if "==" in line))
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "-c", str(constraints), str(wheel)], cwd=venv.parent)
    return python


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{args[:4]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
