"""`make screenshots`: demo/screenshots.py takes the README's pictures from fresh demo data."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.system.browsing import CHROMIUM, on_sqlite_only, unavailable

pytestmark = [pytest.mark.slow, on_sqlite_only]

ROOT = Path(__file__).resolve().parents[2]
PICTURES = {
    "dashboard-light.png": 1280,
    "dashboard-dark.png": 1280,
    "admin-failed.png": 1600,
    "trigger-timeline.png": 1280,
}


def files(folder: Path, pattern: str = "*") -> dict[str, float]:
    return {path.name: path.stat().st_mtime for path in folder.glob(pattern)}


def test_screenshots__four_small_pictures_from_a_throwaway_database(tmp_path):
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium).")
    database = files(ROOT, "demo.sqlite3*")
    committed = files(ROOT / "demo" / "screenshots")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings"}
    env.pop("DEMO_DATABASE", None)

    done = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "screenshots.py"), "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(PICTURES)
    for name, width in PICTURES.items():
        path = tmp_path / name
        assert path.stat().st_size < 300 * 1024
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG"
            assert image.mode == "P"  # quantized to a palette
            assert image.width == width
            assert 600 <= image.height <= 1600
        assert f"{path}: {width}x" in done.stdout
    # The checkout's demo database and pictures are left alone.
    assert files(ROOT, "demo.sqlite3*") == database
    assert files(ROOT / "demo" / "screenshots") == committed


def test_screenshots__a_missing_browser_is_a_clear_error(tmp_path):
    """Without Chromium at its path the script says so and stops before preparing anything."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings"}
    script = (
        "import sys; import demo.screenshots as shots; "
        f"shots.CHROMIUM = {str(tmp_path / 'no-chromium')!r}; "
        f"sys.exit(shots.main(['--out', {str(tmp_path / 'out')!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert done.returncode == 1
    assert "no-chromium is missing: apt-get install chromium" in done.stdout
    assert not (tmp_path / "out").exists()


def test_screenshots__a_taken_port_is_a_clear_error(tmp_path):
    """Not the pictures of whatever serves the port: the script stops before preparing anything."""
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium).")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "demo" / "screenshots.py"),
                "--port",
                str(port),
                "--out",
                str(tmp_path / "out"),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert f"Port {port} is taken: try another --port" in done.stdout
    assert not (tmp_path / "out").exists()


def test_save__a_picture_over_the_limit_fails_and_names_it(tmp_path, monkeypatch, capsys):
    from demo import screenshots

    png = tmp_path / "chromium.png"
    Image.new("RGB", (64, 32), "white").save(png)
    monkeypatch.setattr(screenshots, "MAX_BYTES", 10)

    assert screenshots.save({"tiny": png.read_bytes()}, tmp_path / "out") == 1

    out = capsys.readouterr().out
    assert f"{tmp_path / 'out' / 'tiny.png'}: 64x32" in out
    assert "Over 0 KB: tiny.png." in out
