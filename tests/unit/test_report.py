"""Reports: canonical JSON valid against the shipped schema, renderings, signatures, the hash chain."""

import html
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.failover.measure import Measurement
from drills.judge import check, failover_objectives
from drills.report.build import DrillOutcome, Provenance, build_report, report_id
from drills.report.chain import verify
from drills.report.model import Check, Person, Phase, Signing, Toolkit, report_schema, shipped_schema
from drills.report.render import render_all
from drills.report.signing import fingerprint, load_or_create_key, public_key_text, sign
from drills.report.store import (
    CHAIN,
    SecretInReport,
    _signed_payload,
    chain_head,
    load_report,
    past_reports,
    publish,
    redact,
    sha256,
    write_evidence,
)
from policies.sla import load_policy
from tests.conftest import make_inventory

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CANARY = "canary-s3cr3t-7f1e"


def outcome(rto: float | None, lost: tuple[int, ...] = (), note: str = "") -> DrillOutcome:
    m = Measurement(rto_seconds=rto, rpo_seconds=0.5 if lost else 0.0, lost_ids=lost,
                    oldest_lost_age_seconds=0.5 if lost else None, acknowledged=500, failed=20, unknown=1,
                    unknown_committed=0, failed_but_committed=(), first_ack_after=9, last_ack_before=3)
    return DrillOutcome(
        drill_type="failover", scenario="crash",
        objectives=[*failover_objectives(m, load_policy().tier("gold")), check("Validation", None)],
        measured=m.as_dict(),
        timeline=[Phase(name="disrupt", status="succeeded", started_at=T0, offset_seconds=0.1, duration_seconds=0.12),
                  Phase(name="promote <b>", status="succeeded", started_at=T0, offset_seconds=0.3,
                        duration_seconds=0.2, detail=note)],
        integrity_checks=[Check(name="row counts", passed=True, detail="5 tables match")],
        isolation="lab only; no production system was touched",
        cleanup=[Check(name="fail back", passed=True, detail="primary is primary again")],
        deviations=[note] if note else [],
    )


def make_report(out: Path, key: Ed25519PrivateKey, n: int, rto: float | None = 0.4, note: str = "",
                secrets: tuple[str, ...] = ()) -> Path:
    finished = T0 + timedelta(days=n)
    rid = report_id(finished, "failover", f"{n:06x}")
    evidence = write_evidence(out / rid, "ledger.csv", b"id,outcome\n1,acknowledged\n")
    provenance = Provenance(
        report_id=rid, toolkit=Toolkit(version="0.1.0", git_commit="abc123"),
        operator=Person(name="sre@example.com", role="operator"), policy="policies/tiers.yaml",
        tier_name="gold", chain=chain_head(out),
        signing=Signing(public_key=public_key_text(key), key_fingerprint=fingerprint(public_key_text(key))),
    )
    base = outcome(rto, note=note)
    report = build_report(
        DrillOutcome(**{**base.__dict__, "evidence": [evidence]}), make_inventory(), load_policy().tier("gold"),
        provenance, finished - timedelta(seconds=30), finished)
    report = redact(report, secrets)
    return publish(out, report, render_all(report, past_reports(out)), key, secrets)


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return load_or_create_key(tmp_path / "keys" / "signing.pem", create=True)


def test_report_is_valid_against_the_shipped_schema_and_the_schema_is_current(tmp_path: Path, key) -> None:
    assert shipped_schema() == json.loads(json.dumps(report_schema())), "regenerate drill-report-v1.json"
    report_dir = make_report(tmp_path / "out", key, 1)
    document = json.loads((report_dir / "report.json").read_text())
    jsonschema.validate(document, shipped_schema())
    assert document["passed"] is True and document["schema_version"] == 1


def test_breached_objective_is_named_with_margin_in_every_rendering(tmp_path: Path, key) -> None:
    report_dir = make_report(tmp_path / "out", key, 1, rto=400.0)
    report = load_report(report_dir)
    assert not report.passed
    assert report.deviations == ["RTO 6m40s > 5m by 1m40s"]
    assert report.corrective_actions[0].owner == "sre@example.com"
    for name in ("report.html", "report.md", "report.junit.xml"):
        assert "RTO 6m40s > 5m by 1m40s" in html.unescape((report_dir / name).read_text()), name
    assert 'failures="1"' in (report_dir / "report.junit.xml").read_text()


def test_html_escapes_and_files_are_not_world_readable(tmp_path: Path, key) -> None:
    report_dir = make_report(tmp_path / "out", key, 1, note="<script>alert(1)</script>")
    page = (report_dir / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "promote &lt;b&gt;" in page
    for path in report_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    assert stat.S_IMODE((tmp_path / "keys" / "signing.pem").stat().st_mode) == 0o600


def test_secret_canary_never_reaches_a_report(tmp_path: Path, key) -> None:
    report_dir = make_report(tmp_path / "out", key, 1, note=f"psql failed: password={CANARY}", secrets=(CANARY,))
    for path in report_dir.iterdir():
        assert CANARY not in path.read_text(errors="replace"), path
    assert "password=***" in (report_dir / "report.json").read_text()


def test_unredacted_secret_is_refused(tmp_path: Path, key) -> None:
    report = load_report(make_report(tmp_path / "out", key, 1, note=f"oops {CANARY}"))
    other = tmp_path / "other"
    with pytest.raises(SecretInReport):
        publish(other, report.model_copy(update={"chain": chain_head(other)}), {}, key, (CANARY,))
    assert not (other / CHAIN).exists()


def three_reports(tmp_path: Path, key) -> tuple[Path, list[str]]:
    out = tmp_path / "out"
    ids = [make_report(out, key, n).name for n in (1, 2, 3)]
    assert verify(out) == (3, [])
    return out, ids


def test_an_edited_byte_is_named(tmp_path: Path, key) -> None:
    out, ids = three_reports(tmp_path, key)
    path = out / ids[1] / "report.json"
    data = bytearray(path.read_bytes())
    data[data.index(b'"passed":true') + 9] = ord("f")  # true -> frue: one byte
    path.write_bytes(bytes(data))
    problems = verify(out)[1]
    assert problems[0] == f"report {ids[1]}: report.json was edited (SHA-256 differs from the chain)"


def test_an_edited_html_byte_is_named(tmp_path: Path, key) -> None:
    out, ids = three_reports(tmp_path, key)
    page = out / ids[0] / "report.html"
    page.write_bytes(page.read_bytes().replace(b"PASSED", b"PASSEd", 1))
    assert verify(out)[1] == [f"report {ids[0]}: file report.html was edited (SHA-256 differs from the signed one)"]


def test_a_removed_report_is_named(tmp_path: Path, key) -> None:
    out, ids = three_reports(tmp_path, key)
    for path in (out / ids[1]).iterdir():
        path.unlink()
    (out / ids[1]).rmdir()
    assert verify(out)[1] == [f"report {ids[1]} is missing (listed in {CHAIN})"]
    lines = (out / CHAIN).read_text().splitlines()
    (out / CHAIN).write_text("\n".join([lines[0], lines[2]]) + "\n")
    problems = verify(out)[1]
    assert len(problems) == 1 and ids[2] in problems[0] and "broken link" in problems[0]


def resign(out: Path, rid: str, other: Ed25519PrivateKey) -> None:
    """What a forger does: edit, put their own public key in, re-sign, fix the chain index."""
    report_dir = out / rid
    report = load_report(report_dir).model_copy(update={
        "passed": True, "signing": Signing(public_key=public_key_text(other),
                                           key_fingerprint=fingerprint(public_key_text(other)))})
    body = report.canonical_bytes()
    (report_dir / "report.json").write_bytes(body)
    sig = json.loads((report_dir / "report.sig").read_text())
    sig.update(report_sha256=sha256(body), public_key=public_key_text(other),
               signature=sign(other, _signed_payload(rid, sha256(body), sig["files"])))
    (report_dir / "report.sig").write_text(json.dumps(sig))
    chain = out / CHAIN
    old = json.loads(chain.read_text().splitlines()[-1])["sha256"]
    chain.write_text(chain.read_text().replace(old, sha256(body)))


def test_a_report_re_signed_with_another_key_is_named(tmp_path: Path, key) -> None:
    out, ids = three_reports(tmp_path, key)
    resign(out, ids[2], Ed25519PrivateKey.generate())
    problems = verify(out)[1]
    assert len(problems) == 1 and ids[2] in problems[0] and "signed with another key" in problems[0]


def test_trust_anchor_catches_a_whole_chain_signed_by_someone_else(tmp_path: Path, key) -> None:
    out, _ = three_reports(tmp_path, key)
    stranger = public_key_text(Ed25519PrivateKey.generate())
    assert len(verify(out, trusted_key=stranger)[1]) == 3
