"""A signing-key change as a link of the report chain: the old key hands over to the new one.

The hand-over is an entry of `chain.jsonl` like a report: `<id>/rotation.json` names the
previous link, the old and the new public key, and is signed by both (`rotation.sig`): the old
key says "from here on, this key", the new key accepts. A verifier walks the chain and expects
each report to be signed by the key of its stretch; a key change without a hand-over is a
finding, and a drill refuses to sign a chain with a key the chain has not been handed over to.
"""

import json
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.build import report_id
from drills.report.model import DrillReport
from drills.report.signing import fingerprint, public_key_text, sign, signature_valid
from drills.report.store import (
    CHAIN,
    REPORT,
    append_chain,
    chain_head,
    make_dir,
    read_chain,
    sha256,
    write_private,
)

KIND = "key-rotation"
ROTATION = "rotation.json"
ROTATION_SIG = "rotation.sig"


def rotate(out_dir: Path, old: Ed25519PrivateKey, new: Ed25519PrivateKey, now: datetime, nonce: str) -> Path:
    """Append a hand-over from `old` (the chain's current key) to `new`; return its directory."""
    current = chain_key(out_dir)
    old_public, new_public = public_key_text(old), public_key_text(new)
    if current is not None and current != old_public:
        raise ValueError(f"the chain is signed by {fingerprint(current)}, not by the old key {fingerprint(old_public)}")
    if old_public == new_public:
        raise ValueError("the new key is the old key")
    head = chain_head(out_dir)
    rid = report_id(now, KIND, nonce)
    body = json.dumps({
        "kind": KIND, "rotation_id": rid, "at": now.isoformat(), "previous_report_id": head.previous_report_id,
        "previous_sha256": head.previous_sha256, "old_public_key": old_public,
        "old_fingerprint": fingerprint(old_public), "new_public_key": new_public,
        "new_fingerprint": fingerprint(new_public),
    }, sort_keys=True, separators=(",", ":")).encode()
    folder = make_dir(make_dir(out_dir) / rid)
    write_private(folder / ROTATION, body)
    signatures = {"old_signature": sign(old, body), "new_signature": sign(new, body)}
    write_private(folder / ROTATION_SIG, json.dumps(signatures, indent=2, sort_keys=True).encode())
    append_chain(out_dir, rid, sha256(body), kind=KIND)
    return folder


def chain_key(out_dir: Path) -> str | None:
    """The key the chain expects next: the newest hand-over's new key, else the newest report's key."""
    for entry in reversed(read_chain(out_dir)[0]):
        folder = out_dir / entry["report_id"]
        try:
            if entry.get("kind") == KIND:
                return str(json.loads((folder / ROTATION).read_bytes())["new_public_key"])
            return DrillReport.model_validate_json((folder / REPORT).read_bytes()).signing.public_key
        except (OSError, ValueError, KeyError):
            continue
    return None


def key_change_refusal(out_dir: Path, public_key: str) -> str | None:
    """Why a drill may not sign into this chain with this key (None: it is the chain's key, or no chain)."""
    current = chain_key(out_dir)
    if current is None or current == public_key:
        return None
    return (f"{out_dir / CHAIN} is signed by key {fingerprint(current)}, this drill's key is "
            f"{fingerprint(public_key)}: hand over with `crmdr report rotate-key {out_dir} --old-key OLD.pem "
            "--new-key NEW.pem`, or start a new chain with another --out")


def old_key(out_dir: Path, entry: dict[str, str]) -> str | None:
    """The key a hand-over hands over from (None when it does not read)."""
    try:
        return str(json.loads((out_dir / entry["report_id"] / ROTATION).read_bytes())["old_public_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def rotation_problems(out_dir: Path, entry: dict[str, str], previous: dict[str, str] | None,
                      expected_old: str | None) -> tuple[list[str], str | None]:
    """(problems, the new key) of one hand-over entry."""
    rid = entry["report_id"]
    try:
        body = (out_dir / rid / ROTATION).read_bytes()
        record = json.loads(body)
        signatures = json.loads((out_dir / rid / ROTATION_SIG).read_bytes())
        old, new = str(record["old_public_key"]), str(record["new_public_key"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"key rotation {rid} is missing or unreadable ({type(err).__name__})"], None
    problems: list[str] = []
    if sha256(body) != entry["sha256"]:
        problems.append(f"key rotation {rid}: {ROTATION} was edited (SHA-256 differs from the chain)")
    if record.get("previous_sha256") != (previous or {}).get("sha256"):
        problems.append(f"key rotation {rid}: broken link (names previous {record.get('previous_report_id')}, "
                        f"but the chain's previous is {(previous or {}).get('report_id')})")
    if not signature_valid(old, body, str(signatures.get("old_signature", ""))):
        problems.append(f"key rotation {rid}: not signed by the old key {fingerprint(old)}")
    if not signature_valid(new, body, str(signatures.get("new_signature", ""))):
        problems.append(f"key rotation {rid}: not accepted (signed) by the new key {fingerprint(new)}")
    if expected_old is not None and old != expected_old:
        problems.append(f"key rotation {rid}: hands over from {fingerprint(old)}, but the chain was signed by "
                        f"{fingerprint(expected_old)}")
    return problems, new


def rotations(out_dir: Path) -> list[dict[str, str]]:
    """The hand-overs of the chain as recorded (id, time, old and new fingerprints), oldest first."""
    found = []
    for entry in read_chain(out_dir)[0]:
        if entry.get("kind") != KIND:
            continue
        try:
            record = json.loads((out_dir / entry["report_id"] / ROTATION).read_bytes())
        except (OSError, ValueError):
            continue
        found.append({name: str(record.get(name)) for name in
                      ("rotation_id", "at", "old_fingerprint", "new_fingerprint")})
    return found
