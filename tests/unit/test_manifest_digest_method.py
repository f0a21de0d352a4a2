"""Digest methods in the manifest: a manifest written before `method` existed keeps its seal and meaning. Pure."""

from pathlib import Path

import pytest

from policies.errors import VerificationFailed
from recovery.backups.manifest import parse_manifest, seal, to_bytes
from recovery.backups.validation import TableDigest
from tests.unit.test_wal_manifest import _point

pytestmark = pytest.mark.unit

# Written by `to_bytes(seal(...))` of main at 1ae8b74, the last commit before digest methods.
OLD = (Path(__file__).parent / "data" / "manifest_before_digest_method.json").read_bytes()


def test_a_manifest_written_before_digest_methods_parses_seals_and_verifies_identically() -> None:
    assert b'"method"' not in OLD

    point = parse_manifest(OLD, "m")

    assert {name: digest.method for name, digest in point.tables.items()} == {"accounts": "text", "contacts": "text"}
    assert point.tables["accounts"] == TableDigest(rows=200, checksum="-4611686018427387904")
    assert seal(point).manifest_sha256 == point.manifest_sha256 == "0bf949e9544d281517ab1d129434a2e645bc4a34" \
                                                                   "d5bcf5792442d8c3c43cd758"
    assert parse_manifest(to_bytes(point), "m") == point  # rewritten with "method": "text", same seal
    with pytest.raises(VerificationFailed, match="was modified"):
        parse_manifest(OLD.replace(b'"rows": 200', b'"rows": 201'), "m")


def test_a_record_method_is_sealed() -> None:
    point = _point(tables={"accounts": TableDigest(rows=3, checksum="7", method="record")})
    assert parse_manifest(to_bytes(point), "m") == point

    for edit in ((b'"method": "record"', b'"method": "text"'), (b'"method": "record",', b"")):
        with pytest.raises(VerificationFailed, match="was modified"):
            parse_manifest(to_bytes(point).replace(*edit), "m")
