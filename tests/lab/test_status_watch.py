"""Issue 13's lab story: the primary crashes under `crmdr watch --failover`; customers hear at once.

GIVEN a lab whose status page is served from the DR-region bucket and a subscriber's webhook
WHEN the primary crashes while `crmdr watch --failover` runs
THEN the page lists "investigating" within 10 s of the declaration (measured by polling it),
then "monitoring" after the failover's validation, saying since when service is back; feed and
JSON carry both, in order, with their times; the webhook receiver verifies both HMACs.
A failover drill, by contrast, leaves the public page untouched and reports what it would have sent.
"""

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.test_watch import AUTO_POLICY, crash_primary
from tests.status_helpers import webhook_receiver

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FIRST_NOTICE_WITHIN = 10.0


class PagePoller:
    """A customer refreshing summary.json every 50 ms: when each update first showed."""

    def __init__(self, base: str) -> None:
        self.base, self.seen = base, {}  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                try:
                    incidents = client.get(f"{self.base}/api/v2/summary.json").json()["incidents"]
                except (httpx.HTTPError, ValueError, KeyError):
                    incidents = []
                for incident in incidents:
                    for update in incident["incident_updates"]:
                        self.seen.setdefault(update["status"], time.time())
                self._stop.wait(0.05)

    def __enter__(self) -> "PagePoller":
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._stop.set()
        self._thread.join(5)


def with_webhook(lab: Lab, url: str, tmp_path: Path) -> Path:
    data = json.loads(lab.inventory_path.read_text())
    data["status"]["webhooks"] = [{"url": url, "secret": {"env": "CRMDR_TEST_HOOK_SECRET"}}]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def test_watch_failover_tells_customers_investigating_then_monitoring(fresh_lab: Lab, tmp_path: Path) -> None:
    policy = tmp_path / "auto.yaml"
    policy.write_text(AUTO_POLICY)
    assert fresh_lab.inventory.status is not None
    base = fresh_lab.inventory.status.url
    with webhook_receiver("lab-hook-secret") as receiver, PagePoller(base) as page:
        inventory = with_webhook(fresh_lab, receiver.url, tmp_path)
        command = [sys.executable, "-m", "crmdr", "watch", "--failover", "--accept-data-loss", "--json",
                   "--inventory", str(inventory), "--policy", str(policy), "--journal-dir", str(tmp_path / "runs")]
        watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                   env={**__import__("os").environ, "CRMDR_TEST_HOOK_SECRET": "lab-hook-secret"})
        try:
            assert watcher.stdout is not None
            assert json.loads(watcher.stdout.readline())["status"] == "healthy"
            crash_primary(fresh_lab)
            out, err = watcher.communicate(timeout=180)
        finally:
            watcher.kill()
        assert watcher.returncode == 0, err
        deadline = time.monotonic() + 15
        while "monitoring" not in page.seen and time.monotonic() < deadline:
            time.sleep(0.1)
    lines = out.splitlines()
    statuses = [json.loads(line)["status"] for line in lines if line.startswith("{\"")]
    document = json.loads("\n".join(lines[len(statuses):]))
    declared = datetime.fromisoformat(document["outage"]["at"]).timestamp()
    first_notice = page.seen["investigating"] - declared
    print(f"declaration -> 'investigating' on the page: {first_notice:.3f} s")
    assert first_notice < FIRST_NOTICE_WITHIN, page.seen
    assert page.seen["monitoring"] >= page.seen["investigating"]
    customers = document["customers"]
    assert [u["state"] for u in customers["updates"]] == ["investigating", "monitoring"]
    assert customers["sent_to_customers"] is True and customers["first_notice_seconds"] < FIRST_NOTICE_WITHIN

    summary = httpx.get(f"{base}/api/v2/summary.json", timeout=5).json()
    [incident] = summary["incidents"]
    updates = incident["incident_updates"]
    assert [u["status"] for u in updates] == ["monitoring", "investigating"]
    assert updates[0]["created_at"] > updates[1]["created_at"]
    validated = datetime.fromisoformat(document["failover"]["phases"]["validate"]["end"])
    assert f"available again since {validated:%Y-%m-%d %H:%M} UTC" in updates[0]["body"]
    feed = feedparser.parse(httpx.get(f"{base}/feed.atom", timeout=5).content)
    assert [e.title.split("]")[0] for e in feed.entries[:2]] == ["[Monitoring", "[Investigating"]
    assert [datetime.fromisoformat(e.updated) for e in feed.entries[:2]] == [
        datetime.fromisoformat(u["created_at"]) for u in updates]
    assert [json.loads(p.body)["update"]["status"] for p in receiver.posts] == ["investigating", "monitoring"]
    assert [p.problem for p in receiver.posts] == [None, None]
    assert incident["status"] == "monitoring", "resolving stays a person's decision"


def test_a_failover_drill_leaves_the_public_page_untouched(fresh_lab: Lab, tmp_path: Path) -> None:
    assert fresh_lab.inventory.status is not None
    base = fresh_lab.inventory.status.url
    before = httpx.get(f"{base}/api/v2/summary.json", timeout=5)
    policy = tmp_path / "auto.yaml"
    policy.write_text(AUTO_POLICY)
    result = crmdr("drill", "run", "--type", "failover", "--detect", "watch", "--policy", str(policy),
                   "--inventory", str(fresh_lab.inventory_path), "--out", str(tmp_path / "reports"), "--json")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    after = httpx.get(f"{base}/api/v2/summary.json", timeout=5)
    assert (before.status_code, after.status_code) == (404, 404), "nothing was ever published publicly"
    report = json.loads((Path(verdict["report_dir"]) / "report.json").read_text())
    record = report["measured"]["customer_communication"]
    assert record["drill"] is True and record["sent_to_customers"] is False
    assert [u["state"] for u in record["updates"]] == ["investigating", "monitoring"]
    assert 0 <= record["first_notice_seconds"] < FIRST_NOTICE_WITHIN
    assert all(d["outcome"] == "withheld" for u in record["updates"] for d in u["deliveries"])
    names = [o["name"] for o in report["objectives"]]
    assert "First customer notice" in names
