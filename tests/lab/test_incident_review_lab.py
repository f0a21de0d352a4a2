"""From a real outage to its review: watch -> failover -> status updates -> `crmdr incident review`.

GIVEN a lab whose tier fails over automatically, a watch recording availability, and a credit
policy whose one plan commits to 99.9999 % (any downtime minute breaks it) with a 1 % rule,
WHEN the primary crashes, the watch fails over, an incident is opened and resolved,
THEN the review shows the RTO measured from the journals (first failed probe -> the failover's
first write through the DNS name), the downtime minutes that span covers, the requests the
downtime intake took meanwhile (2, posted by the test), and the credit owed: 10 % of 1000.00 =
100.00 EUR (the month is not over: provisional).
"""

import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from outage.adapters.dr_bucket import DrBucket
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab
from tests.lab.test_intake import api_request
from tests.lab.test_watch import AUTO_POLICY, crash_primary

pytestmark = [pytest.mark.lab, pytest.mark.slow]

CREDITS = """version: 1
currency: EUR
downtime_minute: {failed_share: 1}
components: {database: the CRM database}
plans:
  strict:
    commitment: 99.9999
    credits: [{below: 99.9999, credit: 10}, {below: 99.0, credit: 50}]
"""


def _minutes_covered(start: datetime, end: datetime, share: float = 0.01) -> int:
    """Minutes the span covers for at least `share` of the minute (worked out here, not by the code under test)."""
    minute = start.replace(second=0, microsecond=0)
    count = 0
    while minute < end:
        covered = (min(end, minute + timedelta(minutes=1)) - max(start, minute)).total_seconds()
        count += covered >= 60 * share
        minute += timedelta(minutes=1)
    return count


def test_watch_failover_then_review_shows_rto_and_the_credit_owed(fresh_lab: Lab, tmp_path: Path) -> None:
    if importlib.util.find_spec("outage.status") is None or importlib.util.find_spec("outage.status.model") is None:
        pytest.skip("the status package (issue 13) is not merged: no incident to review")
    policy, credits, customers = tmp_path / "auto.yaml", tmp_path / "credits.yaml", tmp_path / "customers.csv"
    policy.write_text(AUTO_POLICY)
    credits.write_text(CREDITS)
    customers.write_text("id,name,plan,monthly_fee\nc1,Acme,strict,1000.00\n")
    journals, inventory = tmp_path / "runs", str(fresh_lab.inventory_path)
    command = [sys.executable, "-m", "crmdr", "watch", "--failover", "--accept-data-loss", "--json",
               "--inventory", inventory, "--policy", str(policy), "--journal-dir", str(journals)]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert watcher.stdout is not None
        assert json.loads(watcher.stdout.readline())["status"] == "healthy"
        crash_primary(fresh_lab)
        _out, err = watcher.communicate(timeout=180)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    shown = crmdr("status", "show", "--json", "--inventory", inventory, "--policy", str(policy))
    assert shown.returncode == 0, shown.stderr
    automatic = [i["id"] for i in json.loads(shown.stdout)["incidents"] if i["state"] != "resolved"]
    if automatic:  # the watch published "investigating" itself (tier automatic_status_notice)
        incident = automatic[0]
    else:
        opened = crmdr("status", "open", "--title", "CRM unavailable", "--json", "--inventory", inventory,
                       "--policy", str(policy))
        assert opened.returncode == 0, opened.stderr
        incident = json.loads(opened.stdout)["update"]["incident"]
    assert fresh_lab.inventory.intake is not None, "the lab runs the downtime intake"
    for n in range(2):  # customers ask through the downtime intake while the incident is open
        posted = httpx.post(f"{fresh_lab.inventory.intake.url}/api/requests",
                            json=api_request(client_token=f"review-{n:04d}"), timeout=10)
        assert posted.status_code == 201, posted.text
    assert crmdr("status", "resolve", "--incident", incident, "--inventory", inventory, "--policy",
                 str(policy)).returncode == 0

    review = crmdr("incident", "review", incident, "--customers", str(customers), "--policy", str(credits),
                   "--journal-dir", str(journals), "--out", str(tmp_path / "reviews"), "--notes-dir",
                   str(tmp_path / "notes"), "--inventory", inventory, "--json")
    assert review.returncode == 0, review.stderr
    document = json.loads(review.stdout)

    # the figures, from the journals themselves
    events = [json.loads(line) for path in journals.glob("*.jsonl") for line in path.read_text().splitlines()]
    first = min(datetime.fromisoformat(e["wall"]) for e in events if e["runbook"] == "watch" and e["step"] == "probe")
    written = min(datetime.fromisoformat(e["wall"]) for e in events
                  if e["runbook"] == "failover" and e["step"] == "validate" and e["status"] == "succeeded")
    measured = document["measured"]
    assert measured["rto_seconds"] == pytest.approx((written - first).total_seconds(), abs=0.002)
    assert 0 < measured["rto_seconds"] < 30
    down = _minutes_covered(first, written)
    assert document["impact"]["down_minutes"] == down >= 1
    assert document["impact"]["credits_owed"] == {"EUR": "100.00"}  # 10 % of 1000.00: any minute breaks 99.9999 %
    assert "provisional" in document["impact"]["credits_basis"]
    kinds = {e["kind"] for e in document["timeline"]}
    assert {"watch", "runbook", "dns", "update", "resolved"} <= kinds
    assert crmdr("report", "verify", str(tmp_path / "reviews")).returncode == 0
    assert document["impact"]["requests_taken"] == 2
    assert "intake" in kinds and "Ada Lovelace" not in review.stdout  # counted, no personal data

    # the watch recorded its probes as per-minute buckets in the DR bucket
    bucket = DrBucket(fresh_lab.inventory)
    keys = list(bucket.keys(f"availability/{first:%Y-%m}/"))
    assert keys, "no availability series written by the watch"
    lines = [json.loads(line) for key in keys for line in (bucket.get(key) or b"").decode().splitlines()]
    # the watch's failures before it declared: 2 when the standby had lost the primary at each, else 3
    assert sum(line["failed"] for line in lines) >= 2
