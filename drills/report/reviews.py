"""Incident reviews signed and chained exactly like drill reports (same layout, key and verifier).

The review is built in outage/review; this is its Publisher: `crmdr report verify DIR` checks
a directory of reviews as it checks drill reports.
"""

from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from drills.report.signing import fingerprint, public_key_text
from drills.report.store import REPORT, chain_entries, chain_head, publish
from outage.review.model import ChainLink, IncidentReview, Signing


class ReviewChain:
    """Publisher over a report directory (default `.crmdr/reviews`)."""

    def __init__(self, out_dir: Path, key: Ed25519PrivateKey) -> None:
        self.out_dir = out_dir
        self._key = key

    def head(self) -> ChainLink:
        return ChainLink.model_validate(chain_head(self.out_dir).model_dump())

    def signing(self) -> Signing:
        public = public_key_text(self._key)
        return Signing(public_key=public, key_fingerprint=fingerprint(public))

    def publish(self, review: IncidentReview, renderings: Mapping[str, bytes]) -> Path:
        return publish(self.out_dir, review, renderings, self._key)

    def reviews(self) -> list[IncidentReview]:
        return read_reviews(self.out_dir)


def read_reviews(out_dir: Path) -> list[IncidentReview]:
    """The chain's reviews that still load, oldest first (no key needed to read)."""
    found = []
    for entry in chain_entries(out_dir):
        try:
            found.append(IncidentReview.model_validate_json((out_dir / entry["report_id"] / REPORT).read_bytes()))
        except (OSError, ValidationError, ValueError):
            continue
    return found


def review_signer(given: Path | None, inventory_path: Path, environment: str) -> Ed25519PrivateKey:
    """The drills' key: --signing-key, $CRMDR_SIGNING_KEY, or (lab only) the lab's generated key."""
    from drills.report.signing import key_path, load_or_create_key

    lab_default = inventory_path.parent / "secrets" / "report-signing-key.pem" if environment == "lab" else None
    path = key_path(given, lab_default)
    return load_or_create_key(path, create=path == lab_default)
