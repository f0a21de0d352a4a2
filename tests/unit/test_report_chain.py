"""The report chain across key changes, and what `report verify` says when it cannot reach the anchor."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.anchor import Anchored, anchor_problems
from drills.report.chain import verify
from drills.report.rotation import ROTATION_SIG, key_change_refusal, rotate
from drills.report.signing import load_or_create_key, public_key_text
from drills.report.store import chain_entries
from tests.conftest import crmdr
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit

NOW = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "keys" / "old.pem", tmp_path / "keys" / "new.pem"
    load_or_create_key(old, create=True)
    return old, new


def test_a_key_change_without_a_hand_over_is_refused_and_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    make_report(out, old, 1)
    assert key_change_refusal(out, public_key_text(old)) is None
    refusal = key_change_refusal(out, public_key_text(new))
    assert refusal is not None and "crmdr report rotate-key" in refusal
    rid = make_report(out, new, 2).name  # what the old code did after `lab down --purge`
    count, problems = verify(out)
    assert count == 2 and any(rid in p and "no key rotation hands over to it" in p for p in problems), problems


def test_rotate_key_hands_over_and_verify_shows_it(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    out = tmp_path / "out"
    old_path, new_path = keys
    make_report(out, load_or_create_key(old_path, create=False), 1)
    rotated = crmdr("report", "rotate-key", str(out), "--old-key", str(old_path), "--new-key", str(new_path))
    assert rotated.returncode == 0, rotated.stderr
    new = load_or_create_key(new_path, create=False)
    assert key_change_refusal(out, public_key_text(new)) is None
    make_report(out, new, 2)
    result = crmdr("report", "verify", str(out), cwd=tmp_path, env={"CRMDR_INVENTORY": ""})
    assert result.returncode == 0, result.stdout
    assert "handed over to" in result.stdout and "2 report(s)" in result.stdout
    assert "anchor not checked: no inventory" in result.stdout and "intact" not in result.stdout
    trusted = crmdr("report", "verify", str(out), "--public-key", str(new_path), "--json", cwd=tmp_path,
                    env={"CRMDR_INVENTORY": ""})
    document = json.loads(trusted.stdout)
    assert trusted.returncode == 0 and document["reports"] == 2 and len(document["key_rotations"]) == 1
    assert document["anchor"]["checked"] is False
    assert crmdr("report", "verify", str(out), "--public-key", str(old_path), cwd=tmp_path,
                 env={"CRMDR_INVENTORY": ""}).returncode == 1


def test_a_hand_over_the_new_key_did_not_sign_is_a_finding(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    make_report(out, old, 1)
    folder = rotate(out, old, new, NOW, "aaaaaa")
    forged = json.loads((folder / ROTATION_SIG).read_text())
    forged["new_signature"] = forged["old_signature"]  # the old key alone cannot hand over
    (folder / ROTATION_SIG).write_text(json.dumps(forged))
    _count, problems = verify(out)
    assert any("not accepted (signed) by the new key" in p for p in problems), problems


def test_rotation_refuses_a_key_that_does_not_sign_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old, other, new = (Ed25519PrivateKey.generate() for _ in range(3))
    make_report(out, old, 1)
    with pytest.raises(ValueError, match="not by the old key"):
        rotate(out, other, new, NOW, "cccccc")
    assert len(chain_entries(out)) == 1


def test_anchor_names_the_truncated_and_the_rewritten_links() -> None:
    entries = [{"report_id": "r1", "sha256": "a" * 64}, {"report_id": "r2", "sha256": "b" * 64}]
    assert anchor_problems(entries, [Anchored(1, "r1", "a" * 64), Anchored(2, "r2", "b" * 64)]) == []
    truncated = anchor_problems(entries[:1], [Anchored(1, "r1", "a" * 64), Anchored(2, "r2", "b" * 64)])
    assert truncated == ["report r2 is missing: the DR bucket anchored it as entry 2 of the chain, but "
                         "chain.jsonl ends at entry 1 (the chain was truncated)"]
    rewritten = anchor_problems([entries[0], {"report_id": "r9", "sha256": "c" * 64}], [Anchored(2, "r2", "b" * 64)])
    assert len(rewritten) == 1 and "entry 2 is r9" in rewritten[0] and "rewritten" in rewritten[0]
