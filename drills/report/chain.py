"""Verify a report directory's chain end to end: every link, signature and key hand-over.

Apart from `store` (which writes and reads the links) because a key rotation is a link too:
this walks reports and rotations alike, each stretch checked against its own key.
"""

from pathlib import Path

from pydantic import ValidationError

from drills.report.rotation import KIND, ROTATION, old_key, rotation_problems
from drills.report.signing import fingerprint
from drills.report.store import CHAIN, REPORT, check_link, parse_signed, read_chain


def _usual_key(out_dir: Path, entries: list[dict[str, str]]) -> str | None:
    """Without a trust anchor, the key most reports were signed with (a lone re-signed one stands out)."""
    keys: list[str] = []
    for entry in entries:
        try:
            keys.append(parse_signed((out_dir / entry["report_id"] / REPORT).read_bytes()).signing.public_key)
        except (OSError, ValidationError, ValueError):
            continue
    return max(keys, key=keys.count) if keys else None


def verify(out_dir: Path, trusted_key: str | None = None) -> tuple[int, list[str]]:
    """(links checked, problems); `trusted_key` (base64 Ed25519) is the anchor of the newest key when given.

    Each stretch between key rotations is expected to be signed by its own key: the first by
    the first hand-over's old key (or, without one, the trusted or most used key), the next ones
    by each hand-over's new key.
    """
    entries, problems = read_chain(out_dir)
    listed = {entry["report_id"] for entry in entries}
    for path in sorted(p for p in out_dir.iterdir() if (p / REPORT).exists() or (p / ROTATION).exists()):
        if path.name not in listed:
            problems.append(f"report {path.name} is not in {CHAIN} (added outside the chain)")
    rotations = [entry for entry in entries if entry.get("kind") == KIND]
    key = (old_key(out_dir, rotations[0]) if rotations else None) or trusted_key or _usual_key(out_dir, entries)
    previous: dict[str, str] | None = None
    for entry in entries:
        if entry.get("kind") == KIND:
            found, new = rotation_problems(out_dir, entry, previous, key)
            problems += found
            key = new or key
        else:
            problems += check_link(out_dir, entry, previous, key)
        previous = entry
    if trusted_key is not None and rotations and key != trusted_key:
        last = fingerprint(key) if key else "an unreadable key"
        problems.append(f"the chain was last handed over to {last}, not to the trusted key {fingerprint(trusted_key)}")
    return len(entries), problems
