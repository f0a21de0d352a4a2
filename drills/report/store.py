"""The report directory: files written non-world-readable, signed, and chained by hash.

Layout of OUT:
  chain.jsonl               one line per report, in order: {"report_id", "sha256"}
  <report_id>/report.json   canonical JSON (the bytes that are hashed and chained)
  <report_id>/report.sig    Ed25519 signature over {report_id, report_sha256, files}
  <report_id>/report.html|.md|.junit.xml and evidence files (hashed in report.json)

Each report names its predecessor's SHA-256, so an edited byte, a removed report or a report
re-signed with another key breaks a check that `chain.verify` names. The chain file is only an
index: the DR bucket copy under Object Lock is the anchor that survives a rewritten directory.
"""

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from drills.report.model import ChainLink, DrillReport, Evidence
from drills.report.signing import fingerprint, public_key_text, sign, signature_valid
from outage.review.model import IncidentReview
from policies.errors import DrError, Refused
from recovery.redact import redact as redact_text

CHAIN = "chain.jsonl"
REPORT = "report.json"
SIGNATURE = "report.sig"
FILE_MODE = 0o640
DIR_MODE = 0o750


class SecretInReport(DrError):
    """A secret value reached a report; nothing is published."""

    exit_code = 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_private(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write with `mode` from the first byte (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def refuse_shared_dir(path: Path) -> None:
    """Refused: a directory every user may write to, where anyone could swap a report or the chain."""
    if path.is_dir() and path.stat().st_mode & stat.S_IWOTH:
        raise Refused(f"{path}: the report directory is writable by every user "
                      f"(mode {stat.S_IMODE(path.stat().st_mode):04o}); refusing to write reports there")


def make_dir(path: Path) -> Path:
    refuse_shared_dir(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def chain_entries(out_dir: Path) -> list[dict[str, str]]:
    path = out_dir / CHAIN
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chain_head(out_dir: Path) -> ChainLink:
    """The link a new report records: the last report's id and hash (none for the first)."""
    entries = chain_entries(out_dir)
    if not entries:
        return ChainLink(previous_report_id=None, previous_sha256=None)
    return ChainLink(previous_report_id=entries[-1]["report_id"], previous_sha256=entries[-1]["sha256"])


def write_evidence(report_dir: Path, name: str, data: bytes) -> Evidence:
    """An evidence file next to the report; its hash goes into the signed report."""
    write_private(make_dir(report_dir) / name, data)
    return Evidence(name=name, sha256=sha256(data), bytes=len(data), location=f"{report_dir.name}/{name}")


def redact(report: DrillReport, secrets: Iterable[str]) -> DrillReport:
    """The report with every secret value replaced by *** (before it is rendered or signed)."""
    text = redact_text(report.model_dump_json(), [json.dumps(secret)[1:-1] for secret in secrets if secret])
    return DrillReport.model_validate_json(text)


def _signed_payload(report_id: str, report_sha: str, files: Mapping[str, str]) -> bytes:
    body = {"report_id": report_id, "report_sha256": report_sha, "files": dict(sorted(files.items()))}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def publish(out_dir: Path, report: "DrillReport | IncidentReview", renderings: Mapping[str, bytes],
            key: Ed25519PrivateKey, secrets: Iterable[str] = ()) -> Path:
    """Write, sign and chain one report; refuses (writing nothing new) if a secret slipped in."""
    body = report.canonical_bytes()
    for secret in (s for s in secrets if s):
        if any(secret.encode() in data for data in (body, *renderings.values())):
            raise SecretInReport(f"report {report.report_id}: a secret value reached the report; not published")
    if report.signing.public_key != public_key_text(key):
        raise ValueError("the report names a public key other than the signing key's")
    if report.chain.model_dump() != chain_head(out_dir).model_dump():
        raise ValueError("the report's chain link is not the current head of the chain")
    report_dir = make_dir(make_dir(out_dir) / report.report_id)
    write_private(report_dir / REPORT, body)
    files = {name: sha256(data) for name, data in renderings.items()}
    for name, data in renderings.items():
        write_private(report_dir / name, data)
    report_sha = sha256(body)
    signature = {"report_id": report.report_id, "report_sha256": report_sha, "files": files,
                 "public_key": report.signing.public_key,
                 "signature": sign(key, _signed_payload(report.report_id, report_sha, files))}
    write_private(report_dir / SIGNATURE, json.dumps(signature, indent=2, sort_keys=True).encode())
    append_chain(out_dir, report.report_id, report_sha)
    return report_dir


def append_chain(out_dir: Path, entry_id: str, digest: str, *, kind: str | None = None) -> None:
    """One line at the end of chain.jsonl (a report, or with `kind` another link such as a key rotation)."""
    entry = {"report_id": entry_id, "sha256": digest, **({"kind": kind} if kind else {})}
    fd = os.open(out_dir / CHAIN, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, "a") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def load_report(report_dir: Path) -> DrillReport:
    return DrillReport.model_validate_json((report_dir / REPORT).read_bytes())


def past_reports(out_dir: Path) -> list[DrillReport]:
    """Reports of the chain that still load, oldest first (for trends and `drill due`)."""
    found: list[DrillReport] = []
    for entry in chain_entries(out_dir):
        try:
            found.append(load_report(out_dir / entry["report_id"]))
        except (OSError, ValidationError, ValueError):
            continue
    return found


def _check_files(report_dir: Path, report: "DrillReport | IncidentReview", signature: dict[str, Any]) -> list[str]:
    rid = report.report_id
    problems: list[str] = []
    hashed = {name: digest for name, digest in signature.get("files", {}).items()}
    hashed.update({e.name: e.sha256 for e in report.evidence})
    for name, digest in sorted(hashed.items()):
        path = report_dir / name
        if not path.exists():
            problems.append(f"report {rid}: file {name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"report {rid}: file {name} was edited (SHA-256 differs from the signed one)")
    return problems


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name


def _signature_shape(signature: object) -> bool:
    if not isinstance(signature, dict) or not isinstance(signature.get("signature", ""), str):
        return False
    files = signature.get("files", {})
    return isinstance(files, dict) and all(_plain_name(k) and isinstance(v, str) for k, v in files.items())


def parse_signed(body: bytes) -> "DrillReport | IncidentReview":
    """A chained document: a drill report, or an incident review (outage/review) in the same layout."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("kind") == "incident-review":
        return IncidentReview.model_validate(data)
    return DrillReport.model_validate_json(body)


Signed = DrillReport | IncidentReview


def _load_signed(report_dir: Path, rid: str, body: bytes) -> tuple[Signed, dict[str, Any]] | str:
    """The report and its signature file, or the problem naming the file that does not read."""
    try:
        report = parse_signed(body)
    except (ValidationError, ValueError) as err:
        return f"report {rid}: {REPORT} is unreadable ({type(err).__name__})"
    try:
        signature = json.loads((report_dir / SIGNATURE).read_bytes())
    except (ValueError, OSError) as err:
        return f"report {rid}: {SIGNATURE} is unreadable ({type(err).__name__})"
    if not _signature_shape(signature):
        return f"report {rid}: {SIGNATURE} is not a signature file (damaged)"
    stated = {name: signature.get(name) for name in ("report_id", "report_sha256", "public_key")}
    if stated != {"report_id": rid, "report_sha256": sha256(body), "public_key": report.signing.public_key}:
        return f"report {rid}: {SIGNATURE} does not match {REPORT} (report id, hash or key differ)"
    return report, signature


def check_link(out_dir: Path, entry: dict[str, str], previous: dict[str, str] | None,
               anchor: str | None) -> list[str]:
    """Problems of one chained report (`anchor`: the key its stretch of the chain must be signed with)."""
    rid = entry["report_id"]
    report_dir = out_dir / rid
    if not (report_dir / REPORT).exists():
        return [f"report {rid} is missing (listed in {CHAIN})"]
    body = (report_dir / REPORT).read_bytes()
    problems: list[str] = []
    if sha256(body) != entry["sha256"]:
        problems.append(f"report {rid}: {REPORT} was edited (SHA-256 differs from the chain)")
    loaded = _load_signed(report_dir, rid, body)
    if isinstance(loaded, str):
        return [*problems, loaded]
    report, signature = loaded
    key = report.signing.public_key
    payload = _signed_payload(rid, sha256(body), signature.get("files", {}))
    if not signature_valid(key, payload, str(signature.get("signature", ""))):
        problems.append(f"report {rid}: the signature in {SIGNATURE} does not verify")
    if anchor is not None and key != anchor:
        problems.append(f"report {rid}: signed with another key ({report.signing.key_fingerprint}; the chain's "
                        f"key is {fingerprint(anchor)} and no key rotation hands over to it)")
    link = (previous or {}).get("sha256")
    if report.chain.previous_sha256 != link:
        problems.append(f"report {rid}: broken link (names previous {report.chain.previous_report_id}, "
                        f"but the chain's previous is {(previous or {}).get('report_id')})")
    return problems + _check_files(report_dir, report, signature)


def read_chain(out_dir: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The chain's entries, and a problem for each line that is not one: damage is a finding."""
    try:
        lines = (out_dir / CHAIN).read_bytes().splitlines()
    except OSError as err:
        return [], [f"{CHAIN} cannot be read ({err.strerror})"]
    entries: list[dict[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict) and _plain_name(entry.get("report_id")) and isinstance(entry.get("sha256"), str):
            entries.append(entry)
        else:
            problems.append(f"{CHAIN} line {number} is not a chain entry (damaged)")
    return entries, problems
