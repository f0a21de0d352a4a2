"""The HTML report rendered by headless Chromium (Debian's `chromium`): objectives table shown."""

import subprocess
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.unit.test_report import make_report

pytestmark = pytest.mark.lab

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    for binary in ("chromium", "chromium-browser"):
        if subprocess.run(["which", binary], capture_output=True).returncode == 0:
            return binary
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def test_html_report_renders_with_the_objectives_table(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    out = tmp_path / "out"
    make_report(out, key, 1)
    html = make_report(out, key, 2, rto=400.0) / "report.html"
    binary = chromium()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
                             capture_output=True, text=True, timeout=120)
        shot = tmp_path / "report.png"
        subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1200,1600", html.as_uri()], capture_output=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert '<table id="objectives">' in dom.stdout
    assert "RTO 6m40s &gt; 5m by 1m40s" in dom.stdout
    assert '<svg id="timeline"' in dom.stdout and '<svg id="trend"' in dom.stdout
    assert dom.stdout.count("<circle") == 2, "the trend shows both drills"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
