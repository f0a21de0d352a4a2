"""`crmdr status` and `crmdr checklist` as a user runs them, against a moto server for the DR region."""

import json
from pathlib import Path

import boto3
import pytest

from tests.adapters.conftest import ENV
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.adapters



@pytest.fixture
def inventory(tmp_path: Path, moto_url: str) -> Path:
    """An inventory whose DR region (status bucket, backup bucket for the journal mirror) is a moto server."""
    s3 = boto3.client("s3", region_name="us-west-2", endpoint_url=moto_url)
    for bucket in ("crm-status", "crm-backups"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    path = tmp_path / "inventory.json"
    path.write_text(make_inventory(**{"aws.endpoint_url": moto_url, "status": {
        "url": "https://status.example.com", "bucket": "crm-status", "language": "de"}}).to_json())
    return path


def run(*args: str, inventory: Path, journal: Path | None = None) -> tuple[int, str, str]:
    extra = ["--journal-dir", str(journal)] if journal else []
    done = crmdr(*args, "--inventory", str(inventory), *extra, env=ENV, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_open_update_show_resolve_in_german(inventory: Path) -> None:
    code, out, err = run("status", "open", "--title", "CRM nicht erreichbar", "--impact", "critical", "--json",
                         inventory=inventory)
    assert code == 0, err
    opened = json.loads(out)["update"]
    assert opened["state"] == "investigating" and opened["impact"] == "critical" and opened["language"] == "de"
    assert "Wir entschuldigen uns" in opened["message"] and opened["next_update_at"]
    code, out, err = run("status", "update", "--state", "monitoring", "--message", "Der Standby hat übernommen.",
                         "--json", inventory=inventory)
    assert code == 0, err
    code, out, _ = run("status", "show", "--json", inventory=inventory)
    [incident] = json.loads(out)["incidents"]
    assert [u["state"] for u in incident["updates"]] == ["investigating", "monitoring"]
    assert incident["promises"][0]["kept"] is True
    code, out, _ = run("status", "resolve", "--json", inventory=inventory)
    assert code == 0 and json.loads(out)["update"]["next_update_at"] is None
    code, out, err = run("status", "update", "--state", "monitoring", inventory=inventory)
    assert code == 2 and "no open incident" in err
    code, out, err = run("status", "show", inventory=inventory)
    assert code == 0 and "resolved" in out and "investigating by" in out
    site = inventory.parent / "site"
    code, out, err = run("status", "publish", "--out", str(site), "--json", inventory=inventory)
    assert code == 0, err
    assert len(json.loads(out)["published"]) == 4
    page = (site / "index.html").read_text()
    assert '<html lang="de">' in page and "Letzte 90 Tage" in page and "CRM nicht erreichbar" in page
    assert json.loads((site / "api" / "v2" / "summary.json").read_text())["status"]["indicator"] == "none"


def test_checklist_confirmation_is_journalled_with_who_and_when(inventory: Path, tmp_path: Path) -> None:
    journal = tmp_path / "runs"
    code, out, _ = run("checklist", "show", inventory=inventory, journal=journal)
    assert code == 0 and "[ ] customer-success" in out
    code, out, err = run("checklist", "confirm", "first-update", "--by", "alice", inventory=inventory, journal=journal)
    assert code == 2 and "no open incident" in err, "nothing to confirm against"
    run("status", "open", "--title", "CRM down", inventory=inventory)
    code, out, err = run("checklist", "confirm", "customer-success", "--by", "alice", "--json",
                         inventory=inventory, journal=journal)
    assert code == 0, err
    confirmed = json.loads(out)
    code, out, _ = run("checklist", "show", "--json", inventory=inventory, journal=journal)
    items = {item["id"]: item for item in json.loads(out)["items"]}
    assert items["customer-success"]["confirmed_by"] == "alice"
    assert items["customer-success"]["confirmed_at"] == confirmed["at"]
    assert items["incident-lead"]["confirmed_by"] is None
    [line] = (journal / f"{confirmed['journal']}.jsonl").read_text().splitlines()
    assert json.loads(line)["step"] == "customer-success" and json.loads(line)["reason"] == "confirmed by alice"
    code, _, err = run("checklist", "confirm", "make-coffee", inventory=inventory, journal=journal)
    assert code == 2 and "expected one of incident-lead" in err


def test_bad_input_is_one_sentence_and_exit_2(inventory: Path, tmp_path: Path) -> None:
    code, _, err = run("status", "open", "--title", "x", "--impact", "huge", inventory=inventory)
    assert code == 2 and "--impact huge: expected one of none, minor, major, critical" in err
    code, _, err = run("status", "open", "--title", "x", "--component", "billing", inventory=inventory)
    assert code == 2 and "--component billing: expected one of web-app, api, email-intake" in err
    code, _, err = run("status", "open", "--title", "x", "--fix-time", "tomorrow", inventory=inventory)
    assert code == 2 and "--fix-time tomorrow" in err
    bare = tmp_path / "bare.json"
    bare.write_text(make_inventory().to_json())
    code, out, _ = run("status", "due", "--json", inventory=bare)
    assert code == 2 and "status" in out + _
    code, out, _ = run("status", "show", "--json", inventory=inventory)
    assert json.loads(out)["incidents"] == [], "nothing was written by the refused commands"
