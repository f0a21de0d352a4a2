"""The stored-bytes codecs: streamed round trips, full-size reads, damaged streams named. Pure."""

import hashlib
import json
import random

import pytest

from policies.errors import ConfigError, VerificationFailed
from recovery.backups.compression import COMPRESSIONS, Compression, compressing, expanded, parse_compression
from recovery.backups.manifest import ObjectEntry, parse_manifest, to_bytes
from tests.unit.test_wal_manifest import _point

pytestmark = pytest.mark.unit

DATA = random.Random(5).randbytes(300_000) + b"crm row " * 400_000  # incompressible + compressible


class Trickle:
    """A pipe that hands out at most 1,000 bytes per read, as a slow child process would."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        taken, self._data = bytes(self._data[:min(size, 1000)]), self._data[min(size, 1000):]
        return taken


def _stored(compression: Compression, part: int = 64 * 1024) -> list[bytes]:
    reader = compressing(Trickle(DATA), compression)
    parts = []
    while piece := reader.read(part):
        parts.append(piece)
    return parts


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_round_trip_with_full_parts_until_the_last(compression: Compression) -> None:
    parts = _stored(compression)

    assert all(len(p) == 64 * 1024 for p in parts[:-1])  # s3transfer takes a short read as the end
    assert sum(map(len, parts)) < len(DATA) // 2
    assert b"".join(expanded(iter(parts), compression, "k")) == DATA


def test_none_passes_the_bytes_through() -> None:
    assert b"".join(_stored("none", 1000)) == DATA
    assert b"".join(expanded([DATA], "none", "k")) == DATA


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_a_truncated_stream_is_named(compression: Compression) -> None:
    stored = b"".join(_stored(compression))
    with pytest.raises(VerificationFailed, match=f"object k ends before its {compression} stream does"):
        b"".join(expanded([stored[: len(stored) // 2]], compression, "k"))


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_bytes_of_another_kind_are_named(compression: Compression) -> None:
    with pytest.raises(VerificationFailed, match=f"object k is not a readable {compression} stream"):
        b"".join(expanded([b"PGDMP" + b"\0" * 100], compression, "k"))


def test_bad_value_names_the_option_and_choices() -> None:
    assert [parse_compression(c) for c in COMPRESSIONS] == list(COMPRESSIONS)
    with pytest.raises(ConfigError, match="--compress must be one of zstd, lz4, none, got 'gz'"):
        parse_compression("gz")


def test_a_manifest_sealed_before_compression_and_taken_from_existed_still_verifies() -> None:
    """GIVEN a manifest as the previous release wrote it: neither key, sealed over a body without them."""
    body = _point().model_dump(mode="json", exclude={"manifest_sha256", "compression", "taken_from"})
    sha = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    stored = json.dumps({**body, "manifest_sha256": sha}).encode()

    point = parse_manifest(stored, "m")

    assert (point.compression, point.taken_from) == ("none", None)


def test_compression_and_source_are_sealed() -> None:
    point = _point(compression="zstd", taken_from="standby (standby, 10.0.0.2:5432)",
                   objects=[ObjectEntry(key="points/x/base.tar.zst", size=3, sha256="a" * 64)])
    assert parse_manifest(to_bytes(point), "m") == point

    for edit in ((b'"zstd"', b'"lz4"'), (b"standby (standby", b"primary (standby")):
        with pytest.raises(VerificationFailed, match="was modified"):
            parse_manifest(to_bytes(point).replace(*edit), "m")


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_concatenated_frames_expand_whole(compression: Compression) -> None:
    """As `zstd`/`lz4` write appended output (and a frame boundary inside one chunk)."""
    one = b"".join(_stored(compression))
    two = one + one

    assert b"".join(expanded([two[:100], two[100:len(one) + 7], two[len(one) + 7:]], compression, "k")) == DATA * 2
