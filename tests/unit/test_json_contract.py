"""`--json` is a contract: one document on stdout, errors included; ISO 8601 UTC times with `T`."""

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crmdr.output import _jsonable
from tests.conftest import crmdr, make_inventory
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.mark.parametrize("args", [("inventory", "check", "--inventory", "/nonexistent/inv.json"),
                                  ("drill", "run", "--type", "chaos"),
                                  ("report", "verify", "/nonexistent")])
def test_an_error_with_json_is_one_json_document_on_stdout(args: tuple[str, ...]) -> None:
    result = crmdr(*args, "--json")
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["exit_code"] == 2 and error["kind"] == "ConfigError" and error["message"] in result.stderr


@pytest.mark.parametrize("args", [("backup", "list", "--no-such-flag"), ("lab", "cut"), ("report", "verify")])
def test_a_usage_error_with_json_is_the_same_json_error_and_without_json_only_text(args: tuple[str, ...]) -> None:
    """Click's usage errors (unknown flag, missing argument or value) keep exit 2 and their text."""
    result = crmdr(*args, "--json")
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["exit_code"] == 2 and error["kind"] == "UsageError" and error["message"] in result.stderr
    assert "Traceback" not in result.stderr
    plain = crmdr(*args)
    assert plain.returncode == 2 and plain.stdout == "" and error["message"] in plain.stderr


def test_times_are_iso_8601_utc_with_t(tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_report(out, Ed25519PrivateKey.generate(), 1)
    due = json.loads(crmdr("drill", "due", "--tier", "gold", "--out", str(out), "--json").stdout)
    failover = next(d for d in due["drills"] if d["type"] == "failover")
    assert ISO_UTC.match(failover["last_passed"]) and ISO_UTC.match(failover["due_at"]), failover
    berlin = timezone(timedelta(hours=1))
    assert _jsonable(datetime(2026, 1, 1, 13, 0, tzinfo=berlin)) == "2026-01-01T12:00:00Z"
    assert _jsonable(timedelta(minutes=5)) == 300.0


def test_drill_schedule_has_json(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text(make_inventory().to_json())
    result = crmdr("drill", "schedule", "--inventory", str(inventory), "--format", "systemd", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == "systemd" and len(document["files"]) == 6 and not document["installed"]
