"""Evidence on a real lab: the chain's head anchored in the locked DR bucket, the key outside the lab.

GIVEN drills whose reports are chained and mirrored to the lab's DR bucket (moto, Object Lock)
WHEN the newest report directory and the last chain line are removed
THEN `report verify` fails naming the missing report; and after `lab down --purge` and a new
lab, the next drill signs with the same key (it lives outside the lab directory) and the chain
verifies, anchored again in the new bucket.
"""

import json
from pathlib import Path

import pytest

from drills.report.signing import lab_key_path
from tests.conftest import crmdr
from tests.lab.conftest import start_lab, stop_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def drill(inventory: Path, out: Path) -> str:
    """A backup-verify drill on a lab without backups: it fails honestly, and is signed and chained."""
    result = crmdr("drill", "run", "--type", "backup-verify", "--tier", "bronze", "--inventory", str(inventory),
                   "--out", str(out), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    return str(json.loads(result.stdout)["report_id"])


def verify(out: Path, inventory: Path) -> tuple[int, dict[str, object], str]:
    result = crmdr("report", "verify", str(out), "--inventory", str(inventory), "--json")
    human = crmdr("report", "verify", str(out), "--inventory", str(inventory)).stdout
    return result.returncode, json.loads(result.stdout), human


def test_truncation_is_caught_by_the_anchor_and_a_purged_lab_keeps_the_key(tmp_path: Path) -> None:
    lab = start_lab(2, rows=50)
    try:
        out = tmp_path / "reports"
        ids = [drill(lab.inventory_path, out) for _ in range(3)]
        code, document, human = verify(out, lab.inventory_path)
        assert code == 0 and document["anchor"] == {
            "checked": True, "anchored": 3, "unanchored": 0,
            "where": f"s3://{lab.inventory.backup.bucket}/{lab.inventory.backup.prefix}drill-reports/chains/{ids[0]}/"}
        assert "anchor intact" in human

        chain = out / "chain.jsonl"
        lines = chain.read_text().splitlines(keepends=True)
        chain.write_text("".join(lines[:-1]))
        for path in (out / ids[-1]).iterdir():
            path.unlink()
        (out / ids[-1]).rmdir()
        code, document, human = verify(out, lab.inventory_path)
        assert code == 1 and document["valid"] is False
        assert any(ids[-1] in p and "truncated" in p for p in document["problems"]), document  # type: ignore[attr-defined]
        assert f"report {ids[-1]} is missing" in human and "intact" not in human

        purged_out = tmp_path / "purge"
        before = drill(lab.inventory_path, purged_out)
        key = lab_key_path(lab.inventory.stack).read_bytes()
        kept = tmp_path / "inventory.json"
        kept.write_bytes(lab.inventory_path.read_bytes())
        down = crmdr("lab", "down", "--purge", "--dir", str(lab.dir))
        assert down.returncode == 0, down.stderr
        assert not lab.dir.exists() and lab_key_path(lab.inventory.stack).read_bytes() == key
        unreachable = crmdr("report", "verify", str(purged_out), "--inventory", str(kept))
        assert unreachable.returncode == 0, unreachable.stdout + unreachable.stderr
        assert "anchor not checked: the DR bucket did not answer" in unreachable.stdout
        assert "intact" not in unreachable.stdout
    finally:
        stop_lab(lab.dir)
    lab = start_lab(2, rows=50)
    try:
        _code, _document, fresh_bucket = verify(purged_out, lab.inventory_path)
        assert "anchor not found: no link of this chain is anchored" in fresh_bucket, fresh_bucket
        assert "intact" not in fresh_bucket
        after = drill(lab.inventory_path, purged_out)
        code, document, human = verify(purged_out, lab.inventory_path)
        assert code == 0, document
        assert document["reports"] == 2 and document["key_rotations"] == []  # same key: nothing to hand over
        assert document["anchor"]["anchored"] == 2, document  # type: ignore[index]
        assert before != after and "anchor intact" in human
    finally:
        stop_lab(lab.dir)
