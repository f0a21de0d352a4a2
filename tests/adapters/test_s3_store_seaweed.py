"""S3ObjectStore on a real S3-compatible server that has no SSE-KMS: SeaweedFS (`weed server -s3`).

KMS stays on a moto server (the inventory's `aws.endpoint_url`); only the bucket moves to
`backup.endpoint_url`. With `backup.encryption: envelope` the stored bytes are ciphertext (read raw
here), reads decrypt, and a tampered, truncated or plaintext object fails naming the object; with
the default SSE-KMS the store is refused before anything is uploaded.
"""

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from drills.lab.seaweed import Seaweed, create_locked_bucket, start_seaweed
from policies.errors import CloudError, Refused, VerificationFailed
from recovery.adapters import envelope
from recovery.adapters.s3_store import MiB, S3ObjectStore
from recovery.inventory import Inventory
from tests.adapters.conftest import moto_server
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters

NET = int(os.environ.get("CRMDR_TEST_NET", "100"))
BUCKET = "crm-backups"


@pytest.fixture(scope="module")
def seaweed() -> Iterator[Seaweed]:
    root = Path(tempfile.mkdtemp(prefix="crmdr-weed-test-"))
    server = start_seaweed(root, f"127.0.{NET}.201", 20000 + 40 * NET)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def world(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """KMS on moto, a fresh versioned Object Lock bucket on SeaweedFS, and the raw S3 client for both."""
    for name, value in {"AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab"}.items():
        monkeypatch.setenv(name, value)
    with moto_server(f"127.0.{NET}.202") as url:
        key_id = boto3.client("kms", region_name="us-west-2", endpoint_url=url).create_key()["KeyMetadata"]["KeyId"]
        raw = boto3.client("s3", region_name="us-west-2", endpoint_url=seaweed.url)
        bucket = f"{BUCKET}-{request.node.name.replace('_', '-')[5:40].strip('-')}"
        create_locked_bucket(raw, bucket)
        yield {"raw": raw, "bucket": bucket, "inventory": lambda **more: make_inventory(**{
            "aws.endpoint_url": url, "backup.kms_key_id": key_id, "backup.bucket": bucket,
            "backup.endpoint_url": seaweed.url, **more})}


def envelope_store(world: dict[str, Any], **options: Any) -> S3ObjectStore:
    inventory: Inventory = world["inventory"](**{"backup.encryption": "envelope"})
    return S3ObjectStore(inventory, part_size=5 * MiB, **options)


def raw_get(world: dict[str, Any], key: str) -> dict[str, Any]:
    answer: dict[str, Any] = world["raw"].get_object(Bucket=world["bucket"], Key=f"crm/{key}")
    return answer


def test_envelope_round_trip_stores_only_ciphertext(world: dict[str, Any]) -> None:
    inventory: Inventory = world["inventory"](**{"backup.encryption": "envelope"})
    store = S3ObjectStore(inventory, part_size=5 * MiB)
    secret = b"account 4711 ACME GmbH " * 100_000  # 2.3 MB: three sealed chunks, one multipart upload part
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    stored = store.upload_stream("points/a/base.tar", io.BufferedReader(io.BytesIO(secret)), retain_until=until)
    small = store.put_bytes("points/a/manifest.json", b'{"id": "a"}', retain_until=until)

    assert stored.size == len(secret) and stored.sha256 == hashlib.sha256(secret).hexdigest()
    assert small.sha256 == hashlib.sha256(b'{"id": "a"}').hexdigest()
    body = raw_get(world, "points/a/base.tar")
    raw = body["Body"].read()
    assert b"ACME" not in raw and len(raw) == envelope.sealed_size(len(secret))
    assert body["Metadata"][envelope.META_FORMAT] == envelope.STREAM_FORMAT
    assert "ServerSideEncryption" not in body  # the store did not encrypt: crmdr did
    assert b'"id"' not in raw_get(world, "points/a/manifest.json")["Body"].read()
    assert store.get_bytes("points/a/manifest.json") == b'{"id": "a"}'
    for readers in (1, 4):  # one stream, and parallel ranged GETs of 1 MiB spans
        chunks = S3ObjectStore(inventory, readers=readers).iter_chunks("points/a/base.tar", MiB)
        assert b"".join(chunks) == secret
    head = store.head("points/a/base.tar")
    assert head is not None and head.size == len(secret) and head.retain_until == until
    assert head.lock_mode == "GOVERNANCE" and head.kms_key_id == store.kms_key_id
    assert {o.key: o.size for o in store.list("points/a/")} == {"points/a/base.tar": len(secret),
                                                               "points/a/manifest.json": 11}


def test_empty_and_chunk_multiple_objects_round_trip(world: dict[str, Any]) -> None:
    store = envelope_store(world)
    for size in (0, envelope.CHUNK, 2 * envelope.CHUNK + 1):
        data = os.urandom(size)
        store.put_bytes(f"sizes/{size}", data)
        assert store.get_bytes(f"sizes/{size}") == data
        assert b"".join(store.iter_chunks(f"sizes/{size}")) == data
        assert raw_get(world, f"sizes/{size}")["ContentLength"] == envelope.sealed_size(size)


def test_tampered_truncated_moved_and_plaintext_objects_fail_naming_the_object(world: dict[str, Any]) -> None:
    store = envelope_store(world, readers=1)
    data = os.urandom(3 * envelope.CHUNK)
    store.put_bytes("points/t/base.tar", data)
    sealed = raw_get(world, "points/t/base.tar")
    raw, metadata = bytearray(sealed["Body"].read()), sealed["Metadata"]
    put = world["raw"].put_object
    cases = {
        "flipped": (bytes(raw[:100]) + bytes([raw[100] ^ 1]) + bytes(raw[101:]), metadata),
        "truncated": (bytes(raw[:envelope.CHUNK + envelope.TAG]), metadata),  # the first chunk only
        "moved": (bytes(raw), metadata),
        "plaintext": (data, {}),
    }
    for name, (body, meta) in cases.items():
        put(Bucket=world["bucket"], Key=f"crm/bad/{name}", Body=body, Metadata=meta)
        with pytest.raises(VerificationFailed, match=rf"object bad/{name}\b"):
            b"".join(store.iter_chunks(f"bad/{name}"))
        with pytest.raises(VerificationFailed, match=rf"object bad/{name}\b"):
            store.get_bytes(f"bad/{name}")


def test_store_without_sse_kms_is_refused_and_nothing_is_uploaded(world: dict[str, Any]) -> None:
    store = S3ObjectStore(world["inventory"]())  # backup.encryption defaults to sse-kms

    with pytest.raises(Refused, match=r"did not take an SSE-KMS write .*backup\.encryption: envelope"):
        store.put_bytes("points/p/manifest.json", b"{}")
    with pytest.raises(Refused, match=r"did not take an SSE-KMS write"):
        store.upload_stream("points/p/base.tar", io.BytesIO(b"plaintext"))

    versions = world["raw"].list_object_versions(Bucket=world["bucket"])
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


def test_object_lock_is_enforced_on_the_other_server(world: dict[str, Any]) -> None:
    store = envelope_store(world)
    store.put_bytes("locked", b"x", retain_until=datetime.now(UTC) + timedelta(days=1))
    store.put_bytes("free", b"y")

    store.delete("free")
    with pytest.raises(CloudError, match=r"cannot delete s3://.*/crm/locked: AccessDenied"):
        store.delete("locked")
    assert store.head("free") is None and store.get_bytes("locked") == b"x"


def test_wal_metadata_survives_beside_the_envelope(world: dict[str, Any]) -> None:
    """What the WAL archiver writes and the restore queue reads: user metadata next to the envelope's own."""
    store = envelope_store(world)
    segment = os.urandom(envelope.CHUNK + 5)
    digest = hashlib.sha256(segment).hexdigest()
    store.put_bytes("wal/000000010000000000000007", segment, metadata={"sha256": digest})

    data, metadata = store.get_with_metadata("wal/000000010000000000000007")
    head = store.head("wal/000000010000000000000007")

    assert data == segment and metadata["sha256"] == digest
    assert head is not None and head.sha256 == digest and head.size == len(segment)


def test_the_customer_side_bucket_is_sealed_too_and_issues_once(world: dict[str, Any]) -> None:
    """DrBucket (credits, reviews, availability) on the same store: ciphertext at rest, read back by it and by
    the backup store (one encryption for the bucket), a create-only write taken once. It sent SSE-KMS to this
    store before, which refused every customer-side write."""
    from outage.adapters.dr_bucket import DrBucket

    inventory: Inventory = world["inventory"](**{"backup.encryption": "envelope"})
    bucket = DrBucket(inventory)
    ledger = b'{"customer": "ACME GmbH", "credit_eur": "100.00"}'

    assert bucket.put("credits/2026-11/issued/acme.json", ledger, create_only=True) is True
    assert bucket.put("credits/2026-11/issued/acme.json", b"{}", create_only=True) is False

    raw = raw_get(world, "outage/credits/2026-11/issued/acme.json")
    assert b"ACME" not in raw["Body"].read() and raw["Metadata"][envelope.META_FORMAT]
    assert bucket.get("credits/2026-11/issued/acme.json") == ledger
    assert S3ObjectStore(inventory).get_bytes("outage/credits/2026-11/issued/acme.json") == ledger
    assert bucket.get("credits/2026-11/issued/none.json") is None


def test_the_customer_side_bucket_refuses_a_store_without_sse_kms(world: dict[str, Any]) -> None:
    from outage.adapters.dr_bucket import DrBucket

    with pytest.raises(Refused, match=r"did not take an SSE-KMS write .*backup\.encryption: envelope"):
        DrBucket(world["inventory"]()).put("status/summary.json", b"{}")
    versions = world["raw"].list_object_versions(Bucket=world["bucket"])
    assert versions.get("Versions", []) == []
